"""One module per simulated vendor, each exposing `router(state) -> APIRouter`.

Adding a vendor is one module here plus one line in `VENDORS`.
"""

VENDORS = ("crm", "crm_ui", "dnc", "homenet", "dealercom", "vdp", "shortener")
