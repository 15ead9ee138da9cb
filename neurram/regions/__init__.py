"""One module per brain region: its logic as a plain class, and its actor."""
