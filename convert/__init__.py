"""ABC -> MIDI reference converter (mido, no torch)."""
