"""The HTTP layer: each module is one blueprint (`bp`) for one concern; thin: parse, call the domain, answer."""
