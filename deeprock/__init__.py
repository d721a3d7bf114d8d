"""DeepRock Studio: rock guitar MIDI → tokens → LSTM → riffs."""
