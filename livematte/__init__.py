"""livematte: real-time video background removal and replacement."""
__version__ = "0.1.0"

from .api import Livematte, process_file, process_image, process_images, write_mattes  # noqa: E402
from .config import Config, load_config  # noqa: E402
from .types import Frame, LivematteError, StreamInfo  # noqa: E402

__all__ = [
    "Config", "Frame", "Livematte", "LivematteError", "StreamInfo", "__version__", "load_config",
    "process_file", "process_image", "process_images", "write_mattes",
]
