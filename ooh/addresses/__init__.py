"""Address validation: postcodes, each organisation's address file and free-text matching."""
