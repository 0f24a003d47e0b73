"""The `bytesim` command-line interface (click). Thin: parse, call one library function, render."""
