// Tests for the NeuralNet module.
