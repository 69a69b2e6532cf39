"""Stories: which items form one news event, and who published them."""
