"""Block kinds: each module defines one kind's schema, resolution, lowering and template."""
