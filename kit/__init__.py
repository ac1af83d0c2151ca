"""A teaching kit: authenticate to Azure IoT Hub with Microsoft Entra ID and drive it with the service SDK.

The kit does the plumbing (trust, authority host, choosing the sandbox) so that the Azure SDK calls in the
notebooks stay visible. Everything works the same against real Azure or the local sandbox.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iot-entra-kit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
