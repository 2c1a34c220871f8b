"""Task data: Long Range Arena (ListOps, Pathfinder, Text, Retrieval, Image) and Speech Commands.

Every loader is ``load_<task>(data_dir=None, **options) -> ClassificationData`` and looks for
files in data_dir, $SAMOVAR_DATA_DIR, then the cache directory (see docs/tasks_data.md).
"""

from samovar.tasks.data.listops import generate_listops, load_listops, write_listops_splits
from samovar.tasks.data.lra_files import load_image, load_retrieval, load_text
from samovar.tasks.data.pathfinder import PathfinderStyle, generate_pathfinder, load_pathfinder
from samovar.tasks.data.speech_commands import (
    load_speech_commands, load_speech_commands_synthetic, synthesize_speech_commands,
)

__all__ = [
    "PathfinderStyle",
    "generate_listops",
    "generate_pathfinder",
    "load_image",
    "load_listops",
    "load_pathfinder",
    "load_retrieval",
    "load_speech_commands",
    "load_speech_commands_synthetic",
    "load_text",
    "synthesize_speech_commands",
    "write_listops_splits",
]
