"""Choose the reader for an uploaded file and hold it to the size limit."""

from django.utils.translation import gettext as _

from .csv_format import read_csv
from .ics_reader import read_ics
from .rows import FileRefused, Reading, ReadOptions, max_bytes

ICS_EXTENSIONS = (".ics", ".ical", ".icalendar", ".ifb")
CSV_EXTENSIONS = (".csv", ".txt", ".tsv")


def file_format(data: bytes, filename: str) -> str:
    """Return "ics" or "csv" for an upload, from its name, else from its first bytes."""
    name = filename.lower()
    if name.endswith(ICS_EXTENSIONS):
        return "ics"
    if name.endswith(CSV_EXTENSIONS):
        return "csv"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    if head.startswith(b"BEGIN:VCALENDAR"):
        return "ics"
    raise FileRefused(
        _("“%(name)s” is neither an iCalendar (.ics) nor a CSV (.csv) file.") % {"name": filename}
    )


def check_size(size: int) -> None:
    """Refuse a file larger than the import limit, saying the limit."""
    if size > max_bytes():
        raise FileRefused(
            _("The file is %(size)s MB; files of at most %(limit)s MB can be imported.")
            % {"size": f"{size / 2**20:.1f}", "limit": f"{max_bytes() / 2**20:g}"}
        )


def read_upload(data: bytes, filename: str, options: ReadOptions) -> Reading:
    """Read an uploaded file with the reader its format calls for."""
    check_size(len(data))
    if not data.strip():
        raise FileRefused(_("The file is empty."))
    if file_format(data, filename) == "ics":
        return read_ics(data, options)
    return read_csv(data, options)
