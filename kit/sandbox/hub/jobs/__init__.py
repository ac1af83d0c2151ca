"""Work the hub does in the background: scheduled twin and method jobs (``scheduler``), import/export jobs
(``import_export``) and the job table both keep their documents in (``store``)."""
