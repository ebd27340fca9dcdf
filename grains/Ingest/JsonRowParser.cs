using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
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
    public static ParseOutcome Parse(ReadOnlyMemory<byte> body, EventRowLayout layout, int maxRows)
    {
        var errors = new List<RowError>();
        var rows = new List<ParsedRow>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, Options);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" at line {line + 1}, position {ex.BytePositionInLine + 1}" : "";
            errors.Add(new RowError(0, null, $"The body is not valid JSON{where}: {JsonSyntax.Reason(ex)}"));
            return new ParseOutcome(0, rows, errors);
        }

        // The parser checks the UTF-8 of property names and string values only when they are read; the body is checked
        // whole first, so a row is never half read, and replacement characters are never stored for what the client sent.
        if (!Utf8.IsValid(body.Span))
        {
            document.Dispose();
            errors.Add(InvalidUtf8(body.Span));
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

            var builder = new RowBuilder(layout, errors);
            var rowNumber = 0;
            var given = new bool[layout.Slots.Count]; // per field, whether the row has given it yet
            foreach (var element in document.RootElement.EnumerateArray())
            {
                builder.Start(++rowNumber);
                if (element.ValueKind != JsonValueKind.Object)
                {
                    builder.Fail(null, $"must be a JSON object, not {Describe(element.ValueKind)}");
                    continue;
                }

                Array.Clear(given);
                foreach (var property in element.EnumerateObject())
                {
                    var name = property.Name;
                    if (!layout.TryGetSlot(name, out var slot))
                    {
                        builder.Fail(Truncate(name), $"is not a field of '{layout.Model.Code}'");
                        continue;
                    }

                    ref var seen = ref given[slot.IsText ? layout.NumberCount + slot.Index : slot.Index];
                    if (seen)
                    {
                        // Readers disagree on which of two values wins, so the row cannot say what the client meant.
                        builder.Fail(Truncate(name), "appears more than once in the row (by this name or a name the client maps to the same field); give each field once");
                        continue;
                    }

                    seen = true;
                    ReadValue(builder, slot, property.Value);
                }

                if (builder.Complete() is { } row)
                {
                    rows.Add(row);
                }
            }

            return new ParseOutcome(received, rows, errors);
        }
    }

    private static void ReadValue(RowBuilder builder, FieldSlot slot, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return; // Absent and null are the same; required fields are checked when the row completes.
        }

        // One pass per value: check the JSON kind against the field's type and store it.
        var field = slot.Field;
        switch (field.Type)
        {
            case FieldType.Text when value.ValueKind == JsonValueKind.String:
                builder.SetText(slot, value.GetString()!);
                return;
            case FieldType.Number when value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number):
                builder.SetNumber(slot, number);
                return;
            case FieldType.Integer when value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var integer) && Math.Abs(integer) <= (1L << 53):
                builder.SetNumber(slot, integer);
                return;
            case FieldType.Boolean when value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                builder.SetNumber(slot, value.GetBoolean() ? 1 : 0);
                return;
            case FieldType.Timestamp when value.ValueKind == JsonValueKind.String:
                builder.SetTimestamp(slot, value.GetString()!);
                return;
            case FieldType.Number when value.ValueKind == JsonValueKind.Number:
                builder.Fail(field.Name, $"{Excerpt(value.GetRawText())} is out of range: a number field holds at most ±{double.MaxValue.ToString(CultureInfo.InvariantCulture)}");
                return;
            case FieldType.Integer when value.ValueKind == JsonValueKind.Number:
                builder.Fail(field.Name, $"{Excerpt(value.GetRawText())} is not {RowBuilder.Describe(field.Type)}");
                return;
            default:
                builder.Fail(field.Name, $"must be {RowBuilder.Describe(field.Type)}, not {Describe(value.ValueKind)}");
                return;
        }
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

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 8 };

    /// <summary>Names the row and field whose token holds the first byte that is not UTF-8.</summary>
    private static RowError InvalidUtf8(ReadOnlySpan<byte> body)
    {
        Utf8.ToUtf16(body, new char[body.Length], out var offset, out _, replaceInvalidSequences: false);
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = Options.MaxDepth });
        var row = 0;
        string? field = null;
        while (reader.Read() && reader.BytesConsumed <= offset)
        {
            if (reader.CurrentDepth == 1 && reader.TokenType is not (JsonTokenType.EndObject or JsonTokenType.EndArray))
            {
                row++;
                field = null;
            }
            else if (reader.CurrentDepth == 2 && reader.TokenType == JsonTokenType.PropertyName)
            {
                field = reader.GetString();
            }
        }

        if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 2)
        {
            field = Encoding.UTF8.GetString(reader.ValueSpan); // the name itself is invalid: shown with replacement characters
        }
        else if (reader.CurrentDepth == 1 && reader.TokenType is not (JsonTokenType.EndObject or JsonTokenType.EndArray))
        {
            row++;
            field = null;
        }

        var where = row == 0 ? "" : $" in row {row}{(field is null ? "" : $", field '{Truncate(field)}'")}";
        return new RowError(row, field is null ? null : Truncate(field),
            $"The body is not valid UTF-8: byte {offset + 1}{where} does not decode; JSON must be UTF-8 (RFC 8259). Nothing was stored.");
    }

    private static string Excerpt(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static string Truncate(string name) => name.Length <= 64 ? name : name[..64] + "…";
}

/// <summary>A request that exceeds a size limit (answered with 413).</summary>
public sealed class IngestLimitException(string message) : Exception(message);
