"""Admin commands of the identity side (placeholder until built)."""


def register_cli(subparsers) -> None:
    return None
