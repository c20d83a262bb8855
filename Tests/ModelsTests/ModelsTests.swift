// Tests for the Models module.
