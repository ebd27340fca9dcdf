using System.Globalization;
using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Ingest;

/// <summary>
/// Collects the values of one incoming row, whatever its format, and turns them into a
/// <see cref="ParsedRow"/> once required fields and the object model's row rules hold.
/// </summary>
public sealed class RowBuilder(EventRowLayout layout, List<RowError> errors)
{
    public const int MaxTextLength = 2000;

    /// <summary>
    /// The longest value of a dimension field (<see cref="FieldDefinition.Dimension"/>): its values key the rollups per
    /// value, and an index entry must stay under PostgreSQL's limit of 2,704 bytes (500 characters take at most 2,000
    /// in UTF-8); a longer one would stop the partition's roll-ups.
    /// </summary>
    public const int MaxDimensionLength = 500;

    private readonly RowRules _rules = RowRules.For(layout);
    private double[] _numbers = [];
    private string?[] _texts = [];
    private int _row;
    private int _errorsBefore;

    public EventRowLayout Layout => layout;

    public void Start(int rowNumber)
    {
        _row = rowNumber;
        _errorsBefore = errors.Count;
        _numbers = new double[layout.NumberCount];
        Array.Fill(_numbers, double.NaN);
        _texts = new string?[layout.TextCount];
    }

    public void Fail(string? field, string reason) => errors.Add(new RowError(_row, field, reason));

    public void SetNumber(FieldSlot slot, double value) => _numbers[slot.Index] = value;

    public void SetText(FieldSlot slot, string text)
    {
        if (text.Length > MaxTextLength)
        {
            Fail(slot.Field.Name, $"is {text.Length} characters long; at most {MaxTextLength} are allowed");
        }
        else if (slot.Field.Dimension && text.Length > MaxDimensionLength)
        {
            Fail(slot.Field.Name, $"is {text.Length} characters long; a dimension field (one reports drill down by) takes at most {MaxDimensionLength}");
        }
        else if (text.Contains('\0', StringComparison.Ordinal))
        {
            Fail(slot.Field.Name, "contains a NUL character, which text fields cannot store");
        }
        else
        {
            _texts[slot.Index] = text;
        }
    }

    /// <summary>Parses a value written as text (CSV), by the field's type; an empty cell is null.</summary>
    public void SetFromText(FieldSlot slot, string text)
    {
        if (text.Length == 0)
        {
            return;
        }

        var field = slot.Field;
        switch (field.Type)
        {
            case FieldType.Text:
                SetText(slot, text);
                break;
            case FieldType.Number when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number):
                SetNumber(slot, number);
                break;
            case FieldType.Integer when long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer) && Math.Abs(integer) <= (1L << 53):
                SetNumber(slot, integer);
                break;
            case FieldType.Boolean when TryParseBoolean(text, out var flag):
                SetNumber(slot, flag ? 1 : 0);
                break;
            case FieldType.Timestamp when TryParseTimestamp(text, out var instant):
                SetNumber(slot, instant.ToUnixTimeMilliseconds());
                break;
            default:
                Fail(field.Name, $"'{Excerpt(text)}' is not {Describe(field.Type)}");
                break;
        }
    }

    /// <summary>Checks required fields and row rules; returns the row, or null when it has errors.</summary>
    public ParsedRow? Complete()
    {
        foreach (var slot in layout.Slots)
        {
            var field = slot.Field;
            var isNull = slot.IsText ? _texts[slot.Index] is null : double.IsNaN(_numbers[slot.Index]);
            if ((field.Required || field.Name == layout.Model.EventTimeField) && isNull && !HasErrorFor(field.Name))
            {
                Fail(field.Name, "is required");
            }
        }

        // Rules skip values that are missing or failed to parse, so every independent problem is reported.
        _rules.Check(_numbers, Fail);

        if (errors.Count > _errorsBefore)
        {
            return null;
        }

        var eventTimeMs = _numbers[layout.GetSlot(layout.Model.EventTimeField).Index];
        return new ParsedRow(_row, DateTimeOffset.FromUnixTimeMilliseconds((long)eventTimeMs), _numbers, _texts);
    }

    public static string Describe(FieldType type) => type switch
    {
        FieldType.Number => "a finite number",
        FieldType.Integer => "a whole number between -2^53 and 2^53",
        FieldType.Boolean => "true or false",
        FieldType.Timestamp => "an ISO 8601 timestamp with a UTC offset, e.g. 2026-03-01T12:00:00Z",
        _ => "text",
    };

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
        var hasOffset = last is 'Z' or 'z' || (text[^6] is '+' or '-' && text[^3] == ':');
        return hasOffset
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out value)
            && value.Year is >= 1970 and <= 9999;
    }

    private static bool TryParseBoolean(string text, out bool value)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "true" or "1" or "yes":
                value = true;
                return true;
            case "false" or "0" or "no":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    private bool HasErrorFor(string field)
    {
        for (var i = _errorsBefore; i < errors.Count; i++)
        {
            if (errors[i].Field == field)
            {
                return true;
            }
        }

        return false;
    }

    private static string Excerpt(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
