using System.Globalization;
using System.Text.Json;
using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Ingest;

/// <summary>A row that passed validation, before it has a sequence number.</summary>
public sealed record ParsedRow(int RowNumber, DateTimeOffset EventTime, double[] Numbers, string?[] Texts)
{
    public EventRow WithSequence(long sequence) => new(sequence, EventTime, Numbers, Texts);
}

/// <summary>The rows that passed and the reasons the others did not.</summary>
public sealed record ParseOutcome(int Received, List<ParsedRow> Rows, List<RowError> Errors);

/// <summary>
/// Parses a JSON array of objects into rows of one object model, checking every value against the
/// field's type. Every problem of every row is reported, with the 1-based row number and the field.
/// </summary>
public static class JsonRowParser
{
    public const int MaxTextLength = 2000;

    public static ParseOutcome Parse(ReadOnlyMemory<byte> body, EventRowLayout layout, int maxRows)
    {
        var errors = new List<RowError>();
        var rows = new List<ParsedRow>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" at line {line + 1}, position {ex.BytePositionInLine + 1}" : "";
            errors.Add(new RowError(0, null, $"The body is not valid JSON{where}."));
            return new ParseOutcome(0, rows, errors);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                errors.Add(new RowError(0, null, "The body must be a JSON array of row objects."));
                return new ParseOutcome(0, rows, errors);
            }

            var received = document.RootElement.GetArrayLength();
            if (received > maxRows)
            {
                throw new IngestLimitException($"A request may carry at most {maxRows} rows; this one has {received}.");
            }

            var rowNumber = 0;
            foreach (var element in document.RootElement.EnumerateArray())
            {
                rowNumber++;
                var row = ParseRow(element, rowNumber, layout, errors);
                if (row is not null)
                {
                    rows.Add(row);
                }
            }

            return new ParseOutcome(received, rows, errors);
        }
    }

    private static ParsedRow? ParseRow(JsonElement element, int rowNumber, EventRowLayout layout, List<RowError> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new RowError(rowNumber, null, $"must be a JSON object, not {Describe(element.ValueKind)}"));
            return null;
        }

        var errorCount = errors.Count;
        var numbers = new double[layout.NumberCount];
        Array.Fill(numbers, double.NaN);
        var texts = new string?[layout.TextCount];

        foreach (var property in element.EnumerateObject())
        {
            if (!layout.TryGetSlot(property.Name, out var slot))
            {
                errors.Add(new RowError(rowNumber, Truncate(property.Name), $"is not a field of '{layout.Model.Code}'"));
                continue;
            }

            ReadValue(property.Value, slot, rowNumber, numbers, texts, errors);
        }

        foreach (var slot in layout.Slots)
        {
            var field = slot.Field;
            var isNull = slot.IsText ? texts[slot.Index] is null : double.IsNaN(numbers[slot.Index]);
            var alreadyReported = errors.Skip(errorCount).Any(e => e.Field == field.Name);
            if ((field.Required || field.Name == layout.Model.EventTimeField) && isNull && !alreadyReported)
            {
                errors.Add(new RowError(rowNumber, field.Name, "is required"));
            }
        }

        if (errors.Count > errorCount)
        {
            return null;
        }

        var eventTimeMs = numbers[layout.GetSlot(layout.Model.EventTimeField).Index];
        return new ParsedRow(rowNumber, DateTimeOffset.FromUnixTimeMilliseconds((long)eventTimeMs), numbers, texts);
    }

    private static void ReadValue(JsonElement value, FieldSlot slot, int rowNumber, double[] numbers, string?[] texts, List<RowError> errors)
    {
        var field = slot.Field;
        if (value.ValueKind == JsonValueKind.Null)
        {
            return; // Absent and null are the same; required fields are checked afterwards.
        }

        string? problem = null;
        switch (field.Type)
        {
            case FieldType.Text:
                if (value.ValueKind != JsonValueKind.String)
                {
                    problem = $"must be a string, not {Describe(value.ValueKind)}";
                    break;
                }

                var text = value.GetString()!;
                if (text.Length > MaxTextLength)
                {
                    problem = $"is {text.Length} characters long; at most {MaxTextLength} are allowed";
                }
                else if (text.Contains('\0', StringComparison.Ordinal))
                {
                    problem = "contains a NUL character, which text fields cannot store";
                }
                else
                {
                    texts[slot.Index] = text;
                }

                break;
            case FieldType.Number:
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
                {
                    problem = $"must be a finite number, not {Describe(value.ValueKind)}";
                    break;
                }

                numbers[slot.Index] = number;
                break;
            case FieldType.Integer:
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var integer) || Math.Abs(integer) > (1L << 53))
                {
                    problem = "must be a whole number between -2^53 and 2^53";
                    break;
                }

                numbers[slot.Index] = integer;
                break;
            case FieldType.Boolean:
                if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    problem = $"must be true or false, not {Describe(value.ValueKind)}";
                    break;
                }

                numbers[slot.Index] = value.GetBoolean() ? 1 : 0;
                break;
            case FieldType.Timestamp:
                if (value.ValueKind != JsonValueKind.String || !TryParseTimestamp(value.GetString()!, out var instant))
                {
                    problem = "must be an ISO 8601 timestamp with a UTC offset, e.g. 2026-03-01T12:00:00Z";
                    break;
                }

                numbers[slot.Index] = instant.ToUnixTimeMilliseconds();
                break;
            default:
                problem = $"has unsupported type {field.Type}";
                break;
        }

        if (problem is not null)
        {
            errors.Add(new RowError(rowNumber, field.Name, problem));
        }
    }

    /// <summary>
    /// Accepts only timestamps that say their offset: a local time without one is ambiguous, and guessing
    /// would silently shift events between buckets.
    /// </summary>
    public static bool TryParseTimestamp(string text, out DateTimeOffset value)
    {
        value = default;
        if (text.Length is < 20 or > 40)
        {
            return false;
        }

        var last = text[^1];
        var hasOffset = last is 'Z' or 'z' || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        return hasOffset
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out value)
            && value.Year is >= 1970 and <= 9999;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    private static string Truncate(string name) => name.Length <= 64 ? name : name[..64] + "…";
}

/// <summary>A request that exceeds a size limit (answered with 413).</summary>
public sealed class IngestLimitException(string message) : Exception(message);
