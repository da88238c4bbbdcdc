"""One module per simulated vendor, each exposing `router(state) -> APIRouter`.

Adding a vendor is one module here plus one entry in `sandbox.app.VENDOR_MODULES`.
"""
