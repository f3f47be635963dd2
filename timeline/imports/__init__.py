"""Events brought in from calendar files and spreadsheets, and taken out again.

A reader (`ics_reader`, `csv_reader`) turns an uploaded file into a `rows.Reading`: the events
it gives, each with the line or row it came from, and the rows it refuses with the reason.
`plan` matches them to the record and works out the dry run, field by field; `apply` writes a
confirmed plan in one transaction and one history revision; `export` writes a selection back
out in the formats the readers read.
"""
