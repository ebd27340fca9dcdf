using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace AnalyticsEngine.Ingest;

/// <summary>
/// Parses UTF-8 CSV with a header row (RFC 4180 quoting) into rows of one object model. The header names
/// fields; row numbers count data rows from 1 (the header is row 0), columns count from 1. An empty cell is null.
/// Empty lines at the end are ignored (editors add them); an empty line between rows is an error, not a skipped row.
/// </summary>
public static class CsvRowParser
{
    /// <summary>
    /// Stands for bytes that are not UTF-8 in the decoded text: a lone surrogate, which no valid UTF-8 decodes to,
    /// so a cell that holds one is known to come from invalid bytes and the error can name its row and column.
    /// </summary>
    private const char InvalidBytes = '\uDC00';

    public static ParseOutcome Parse(byte[] body, EventRowLayout layout, int maxRows)
    {
        var errors = new List<RowError>();
        var rows = new List<ParsedRow>();
        if (body.Length == 0)
        {
            errors.Add(new RowError(0, null, "The body is empty; CSV needs a header row naming the fields."));
            return new ParseOutcome(0, rows, errors);
        }

        var reader = new CsvReader(Decode(body, out var hasInvalidBytes));
        if (!reader.TryReadRecord(out var headerCells, out var problem) || problem is not null)
        {
            errors.Add(problem ?? new RowError(0, null, "The body has no header row."));
            return new ParseOutcome(0, rows, errors);
        }

        List<string> header = [.. headerCells]; // the reader reuses its list for the next record

        if (hasInvalidBytes && FindInvalidBytes(header, 0, names: null) is { } badHeader)
        {
            errors.Add(badHeader);
            return new ParseOutcome(0, rows, errors);
        }

        // Every problem with the header (unknown or repeated names) is reported, not only the first.
        var columns = MapHeader(header, layout, errors);
        if (errors.Count > 0)
        {
            return new ParseOutcome(0, rows, errors);
        }

        var builder = new RowBuilder(layout, errors);
        var received = 0;
        while (reader.TryReadRecord(out var cells, out problem))
        {
            if (++received > maxRows)
            {
                throw new IngestLimitException($"A request may carry at most {maxRows} rows; this one has more.");
            }

            if (problem is not null)
            {
                // A quote left open swallows the rest of the body, so no later row can be read.
                errors.Add(problem);
                return new ParseOutcome(received, [], errors);
            }

            if (hasInvalidBytes && FindInvalidBytes(cells, received, header) is { } badRow)
            {
                // Text that is not what the client sent must never be stored, and guessing the bytes' meaning would be.
                return new ParseOutcome(0, [], [badRow]);
            }

            builder.Start(received);
            if (cells.Count == 1 && cells[0].Length == 0)
            {
                builder.Fail(null, $"row {received} is empty; remove the empty line or fill in its values");
                continue;
            }

            if (cells.Count != columns.Length)
            {
                builder.Fail(null, $"has {cells.Count} values but the header names {columns.Length} fields");
                continue;
            }

            for (var i = 0; i < columns.Length; i++)
            {
                builder.SetFromText(columns[i], cells[i], i + 1, reader.IsQuotedEmpty(i));
            }

            if (builder.Complete() is { } parsed)
            {
                rows.Add(parsed);
            }
        }

        return new ParseOutcome(received, rows, errors);
    }

    /// <summary>
    /// Decodes UTF-8, leaving a BOM out and marking each invalid sequence with <see cref="InvalidBytes"/>; the cells of a
    /// body without any are not searched for them.
    /// </summary>
    private static string Decode(ReadOnlySpan<byte> bytes, out bool hasInvalidBytes)
    {
        if (bytes.StartsWith(Encoding.UTF8.Preamble))
        {
            bytes = bytes[Encoding.UTF8.Preamble.Length..];
        }

        hasInvalidBytes = !Utf8.IsValid(bytes);
        if (!hasInvalidBytes)
        {
            return Encoding.UTF8.GetString(bytes); // the usual body: one pass to check, one to decode
        }

        // UTF-16 never needs more units than UTF-8 has bytes, and each invalid sequence is at least one byte.
        var chars = new char[bytes.Length];
        var written = 0;
        while (true)
        {
            var status = Utf8.ToUtf16(bytes, chars.AsSpan(written), out var read, out var count, replaceInvalidSequences: false);
            written += count;
            bytes = bytes[read..];
            if (status == OperationStatus.Done)
            {
                return new string(chars, 0, written);
            }

            Rune.DecodeFromUtf8(bytes, out _, out var invalidLength);
            chars[written++] = InvalidBytes;
            bytes = bytes[invalidLength..];
        }
    }

    private static RowError? FindInvalidBytes(List<string> cells, int row, List<string>? names)
    {
        for (var i = 0; i < cells.Count; i++)
        {
            if (cells[i].Contains(InvalidBytes, StringComparison.Ordinal))
            {
                var field = names is not null && i < names.Count ? names[i].Trim() : null;
                var where = row == 0 ? $"the header, column {i + 1}" : $"row {row}, column {i + 1}{(field is null ? "" : $" ({field})")}";
                return new RowError(row, field, $"The body is not valid text in its charset (UTF-8 unless the Content-Type names another): {where} holds bytes that do not decode; nothing was stored.");
            }
        }

        return null;
    }

    private static FieldSlot[] MapHeader(IReadOnlyList<string> names, EventRowLayout layout, List<RowError> errors)
    {
        var slots = new FieldSlot[names.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal); // by the field's name: a client's own name for it counts as it
        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i].Trim();
            if (!layout.TryGetSlot(name, out slots[i]))
            {
                errors.Add(new RowError(0, name, $"header column {i + 1} is not a field of '{layout.Model.Code}'"));
            }
            else if (!seen.Add(slots[i].Field.Name))
            {
                errors.Add(new RowError(0, name, $"header column {i + 1} repeats a field ({slots[i].Field.Name})"));
            }
        }

        return slots;
    }

    /// <summary>
    /// Reads records of RFC 4180 CSV: fields separated by commas, records by CRLF, LF or CR; a field in double quotes
    /// may hold commas, line breaks and doubled quotes. A quote inside an unquoted field is kept as it is.
    /// </summary>
    private sealed class CsvReader(string text)
    {
        private readonly StringBuilder _cell = new();
        private readonly List<string> _cells = [];
        private readonly HashSet<int> _quotedEmpty = [];

        /// <summary>Whether the last record's cell at <paramref name="index"/> was <c>""</c>: the empty text, where an empty cell is no value.</summary>
        public bool IsQuotedEmpty(int index) => _quotedEmpty.Contains(index);
        private int _position;
        private int _record = -1;

        /// <summary>
        /// Reads the next record, or returns false at the end of the text (empty lines at the end included);
        /// <paramref name="problem"/> says why a record cannot be read, after which no more can be.
        /// </summary>
        public bool TryReadRecord(out List<string> cells, out RowError? problem)
        {
            cells = _cells; // valid until the next call
            cells.Clear();
            _quotedEmpty.Clear();
            problem = null;
            if (OnlyLineBreaksRemain())
            {
                return false;
            }

            _record++;
            var cell = _cell.Clear();
            while (true)
            {
                var quoted = false;
                if (_position < text.Length && text[_position] == '"')
                {
                    quoted = true;
                    var opened = cells.Count + 1;
                    _position++;
                    while (true)
                    {
                        var quote = text.IndexOf('"', _position);
                        if (quote < 0)
                        {
                            var where = _record == 0 ? "the header" : $"row {_record}";
                            problem = new RowError(_record, null, $"The quote that opens column {opened} of {where} is never closed; a quote inside a quoted value is written twice (\"\").");
                            return true;
                        }

                        cell.Append(text, _position, quote - _position);
                        _position = quote + 1;
                        if (_position < text.Length && text[_position] == '"')
                        {
                            cell.Append('"');
                            _position++;
                        }
                        else
                        {
                            break;
                        }
                    }

                    // RFC 4180: a quoted value ends its field. Text after it ("ab"cd) is a quote misplaced, and joining
                    // the two would store what the client may not have meant.
                    if (_position < text.Length && text[_position] is not (',' or '\r' or '\n'))
                    {
                        var where = _record == 0 ? "the header" : $"row {_record}";
                        problem = new RowError(_record, null,
                            $"Column {opened} of {where} has text after its closing quote; quote the whole value, and write a quote inside it twice (\"\").");
                        return true;
                    }
                }

                // The unquoted part of the field, or what follows a closing quote, up to the next comma or line break.
                var end = text.AsSpan(_position).IndexOfAny(",\r\n");
                end = end < 0 ? text.Length : _position + end;
                if (cell.Length == 0)
                {
                    if (quoted && end == _position)
                    {
                        _quotedEmpty.Add(cells.Count);
                    }

                    cells.Add(text.Substring(_position, end - _position)); // unquoted: no copy through the builder
                }
                else
                {
                    cell.Append(text, _position, end - _position);
                    cells.Add(cell.ToString());
                    cell.Clear();
                }

                _position = end;
                if (_position < text.Length && text[_position] == ',')
                {
                    _position++;
                    continue;
                }

                SkipLineBreak();
                return true;
            }
        }

        private void SkipLineBreak()
        {
            if (_position < text.Length && text[_position] == '\r')
            {
                _position++;
            }

            if (_position < text.Length && text[_position] == '\n')
            {
                _position++;
            }
        }

        private bool OnlyLineBreaksRemain() => text.AsSpan(_position).IndexOfAnyExcept("\r\n") < 0;
    }
}
