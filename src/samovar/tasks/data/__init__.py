"""Task data: Long Range Arena (ListOps, Pathfinder, Text, Retrieval, Image) and Speech Commands."""
