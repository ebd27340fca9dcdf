using System.Globalization;
using System.Text.RegularExpressions;
using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Ingest;

/// <summary>
/// Collects the values of one incoming row, whatever its format, and turns them into a
/// <see cref="ParsedRow"/> once required fields and the object model's row rules hold.
/// </summary>
public sealed partial class RowBuilder(EventRowLayout layout, List<RowError> errors)
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
    private int _column;
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

    public void Fail(string? field, string reason) =>
        errors.Add(new RowError(_row, field, _column > 0 ? $"column {_column}: {reason}" : reason));

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

    /// <summary>
    /// Parses a value written as text (CSV) in the 1-based <paramref name="column"/>, by the field's type; an empty cell
    /// is null. Its errors name the column, which a spreadsheet shows where a field name may be hard to find.
    /// </summary>
    public void SetFromText(FieldSlot slot, string text, int column)
    {
        if (text.Length == 0)
        {
            return;
        }

        _column = column;
        try
        {
            SetFromText(slot, text);
        }
        finally
        {
            _column = 0;
        }
    }

    private void SetFromText(FieldSlot slot, string text)
    {

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
            case FieldType.Timestamp:
                SetTimestamp(slot, text);
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

    /// <summary>The first instant a timestamp may name: event times before the Unix epoch are refused.</summary>
    public static readonly DateTimeOffset EarliestTimestamp = DateTimeOffset.UnixEpoch;

    /// <summary>
    /// The first instant a timestamp may no longer name: buckets of a year, and the offsets a client adds, must still
    /// fit in the calendar, which ends with 9999.
    /// </summary>
    public static readonly DateTimeOffset TimestampEnd = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Why a timestamp outside the range is refused, for every timestamp field alike.</summary>
    public static readonly string TimestampRange =
        $"must be from {EarliestTimestamp:yyyy-MM-ddTHH:mm:ssZ} up to, not including, {TimestampEnd:yyyy-MM-ddTHH:mm:ssZ}";

    /// <summary>Parses a timestamp for <paramref name="slot"/>, or reports why it is none.</summary>
    public void SetTimestamp(FieldSlot slot, string text)
    {
        if (TryParseTimestamp(text, out var instant, out var problem))
        {
            SetNumber(slot, instant.ToUnixTimeMilliseconds());
        }
        else
        {
            Fail(slot.Field.Name, problem);
        }
    }

    public static bool TryParseTimestamp(string text, out DateTimeOffset value) => TryParseTimestamp(text, out value, out _);

    /// <summary>
    /// Accepts only ISO 8601 with an explicit offset (the rule of the gateway's query API): a local time without one is
    /// ambiguous, guessing would silently shift events between buckets, and a culture's formats (01/03/2026) read
    /// differently on differently configured machines.
    /// </summary>
    public static bool TryParseTimestamp(string text, out DateTimeOffset value, out string problem)
    {
        value = default;
        problem = "";
        if (!Iso8601WithOffset().IsMatch(text))
        {
            problem = Iso8601WithoutOffset().IsMatch(text)
                ? $"'{Excerpt(text)}' has no UTC offset; add Z or ±HH:MM, e.g. 2026-03-01T12:00:00Z"
                : $"'{Excerpt(text)}' is not {Describe(FieldType.Timestamp)}";
            return false;
        }

        // The pattern leaves only an impossible date (February 30) or an instant past the calendar's end to fail here.
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out value))
        {
            problem = DateTime.TryParse(text[..10], CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
                ? $"'{text}' {TimestampRange}"
                : $"'{text}' is not a date of the calendar";
            return false;
        }

        if (value < EarliestTimestamp || value >= TimestampEnd)
        {
            problem = $"'{text}' {TimestampRange}";
            return false;
        }

        return true;
    }

    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,7})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex Iso8601WithOffset();

    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Iso8601WithoutOffset();

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
