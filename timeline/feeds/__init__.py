"""Calendar feeds: the pure iCalendar writer, publishing, storage, serving, calendar links."""
