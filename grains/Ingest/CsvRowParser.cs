using nietras.SeparatedValues;

namespace AnalyticsEngine.Ingest;

/// <summary>
/// Parses CSV with a header row (RFC 4180 quoting) into rows of one object model. The header names
/// fields; row numbers count data rows from 1 (the header is row 0). An empty cell is null.
/// </summary>
public static class CsvRowParser
{
    public static ParseOutcome Parse(byte[] body, EventRowLayout layout, int maxRows)
    {
        var errors = new List<RowError>();
        var rows = new List<ParsedRow>();
        if (body.Length == 0)
        {
            errors.Add(new RowError(0, null, "The body is empty; CSV needs a header row naming the fields."));
            return new ParseOutcome(0, rows, errors);
        }

        try
        {
            // The header is read as an ordinary row so that every problem with it (unknown or repeated
            // names) is reported, not only the first.
            using var reader = Sep.New(',').Reader(o => o with { HasHeader = false, Unescape = true, DisableColCountCheck = true }).From(body);
            if (!reader.MoveNext())
            {
                errors.Add(new RowError(0, null, "The body has no header row."));
                return new ParseOutcome(0, rows, errors);
            }

            var header = reader.Current;
            var names = new List<string>(header.ColCount);
            for (var i = 0; i < header.ColCount; i++)
            {
                names.Add(header[i].ToString());
            }

            var columns = MapHeader(names, layout, errors);
            if (errors.Count > 0)
            {
                return new ParseOutcome(0, rows, errors);
            }

            var builder = new RowBuilder(layout, errors);
            var received = 0;
            foreach (var row in reader)
            {
                if (++received > maxRows)
                {
                    throw new IngestLimitException($"A request may carry at most {maxRows} rows; this one has more.");
                }

                builder.Start(received);
                if (row.ColCount != columns.Length)
                {
                    builder.Fail(null, $"has {row.ColCount} values but the header names {columns.Length} fields");
                    continue;
                }

                for (var i = 0; i < columns.Length; i++)
                {
                    builder.SetFromText(columns[i], row[i].ToString());
                }

                if (builder.Complete() is { } parsed)
                {
                    rows.Add(parsed);
                }
            }

            return new ParseOutcome(received, rows, errors);
        }
        catch (InvalidDataException ex)
        {
            errors.Add(new RowError(0, null, $"The body is not valid CSV: {ex.Message}"));
            return new ParseOutcome(0, rows, errors);
        }
    }

    private static FieldSlot[] MapHeader(IReadOnlyList<string> names, EventRowLayout layout, List<RowError> errors)
    {
        var slots = new FieldSlot[names.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i].Trim();
            if (!layout.TryGetSlot(name, out slots[i]))
            {
                errors.Add(new RowError(0, name, $"header column {i + 1} is not a field of '{layout.Model.Code}'"));
            }
            else if (!seen.Add(name))
            {
                errors.Add(new RowError(0, name, $"header column {i + 1} repeats a field"));
            }
        }

        return slots;
    }
}
