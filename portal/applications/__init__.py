"""Online 异议申请 and 信用修复申请: a private service beside the public portal.

The applicant files through the static site's form page, which posts to this package's own FastAPI app
(:mod:`portal.applications.app`, its own port); the operator decides with ``portal applications …``
(:mod:`portal.applications.cli`). Decisions become the existing entry actions (:mod:`portal.ingest.actions`), so
the next publish flags, withholds or withdraws the entry; nothing else of an application ever leaves the
store.

**Privacy boundary.** The store (``var/applications/``: database and attachments) is read only by this
package. Ingest, site, index, snapshot and the search API never import it (an import-linter style test in
``tests/test_applications_privacy.py`` checks the imports, and the leak test scans the published tree after
applications exist).
"""
