"""Services: every write to the domain goes through a function here (Django-Styleguide)."""
