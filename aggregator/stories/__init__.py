"""Stories: items grouped into news events, whatever feeds and publishers carry them."""
