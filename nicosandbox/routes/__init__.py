"""The emulator's surfaces, one module per real host."""
