"""Transfer analytics: the hourly aggregate hashes read over a window and folded into figures.

The Lua that records each attempt's end and each outcome (lua/analytics.lua) also increments one
hash per UTC hour, `Keys.analytics('YYYYMMDDHH')`, and the all-time totals, with fields
`<dim>=<value>|<metric>`:

- dims: `all=*`, `dest=<recipient>`, `rule=<rule or (none)>`, `mode=<cold|warm|agent>`;
- per transfer (at its outcome; dest = the final attempt's): `transfers`, `outcome:<o>`,
  `depth:<n>`, `hold_le:<bound>`, `hold_sum`, `hold_n`, `hangup_on_hold`;
- per attempt (at its end; dest = that attempt's): `attempts`, `result:<r>`, `answer_le:<bound>`,
  `answer_sum`, `answer_n`, `accept_le:<bound>`, `accept_sum`, `accept_n`.

figures.py knows the format and computes figures (p50/p90 are bin estimates); reader.py reads a
window in one round trip and keeps the sums of closed hours.
"""
from .figures import ESTIMATE_NOTE, HISTOGRAMS, RESULTS, estimate, figures, parse_bound, parse_field
from .reader import (DEFAULT_WINDOW, DIMS, GROUPS, MAX_WINDOW, Analytics, Window, WindowError,
                     time_zones)

__all__ = ["Analytics", "DEFAULT_WINDOW", "DIMS", "ESTIMATE_NOTE", "GROUPS", "HISTOGRAMS", "MAX_WINDOW", "RESULTS",
           "Window", "WindowError", "estimate", "figures", "parse_bound", "parse_field", "time_zones"]
