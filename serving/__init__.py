"""AIRevenueOrc operational application: the FastAPI serving layer, its domains and migrations."""
