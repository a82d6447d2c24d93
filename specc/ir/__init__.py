"""The intermediate representation: a graph of layer-level ops with shapes and scopes."""
