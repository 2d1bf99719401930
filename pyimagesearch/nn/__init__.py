"""Neural networks: the book's architectures (`nn.conv`) and keras.applications access."""
