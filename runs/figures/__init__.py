"""Pure Plotly figures: plain rows and analysis results in, figure dicts out (no ORM, no I/O).

``common`` holds what they share (escaping, number cleaning, the base layout), ``runs`` the
run pages' time-series, profile, endpoint and generator charts, ``analysis`` the capacity
curves and run comparisons. Views hand the dicts to ``json_script``; ``static/js/charts.js``
draws them.
"""
