"""Admin commands of the hub side (placeholder until built)."""


def register_cli(subparsers) -> None:
    return None
