"""`python -m services.analytics [migrate|query]`: the same commands as `voltstream analytics`."""

from services.analytics.cli import main

main()
