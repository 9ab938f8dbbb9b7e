"""Pure loss functions returning tensors."""
