"""Django-free core: pure domain logic (profiles, histograms, thresholds, cron, analysis, address
checks, the load engine's child side and protocol). Nothing here imports Django or the ORM; an
import-linter contract checks it."""
