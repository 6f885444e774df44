"""The console's pure parts: the read model's rows, the timeline picture, the compliance
figures. No I/O, no clock reads."""
