"""Training and evaluation: the train and eval commands, callbacks, the loss and the accuracy metric."""
