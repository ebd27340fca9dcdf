using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// The times the API reads, in bodies and query strings: ISO 8601 with an explicit offset (<c>Z</c> or <c>+02:00</c>).
/// Without one, .NET would read the time in the server's own zone, so the same request would mean different ranges on
/// differently configured machines; it is refused instead. Any number of fractional digits: a time finer than a
/// <see cref="DateTimeOffset"/> holds (100 ns, the seven digits .NET writes) is rounded up to it, so that a range from
/// it still leaves out every instant before it (the query path rounds up again, to the microsecond PostgreSQL keeps:
/// <c>KpiSqlPlan.Instant</c>).
/// </summary>
public static partial class Instants
{
    /// <summary>What a caller is told a time must look like.</summary>
    public const string Expected = "an ISO 8601 time with an offset, e.g. 2026-07-01T00:00:00Z or 2026-07-01T02:00:00+02:00";

    private const int HeldFractionalDigits = 7;

    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        return text is not null && Read(text, out value) == Reading.Read;
    }

    /// <summary>Why <paramref name="text"/> is not a time the API reads.</summary>
    public static string Problem(string text) => Read(text, out _) switch
    {
        Reading.NotOfTheCalendar =>
            $"'{text}' is not a time of the calendar (a month's day, an hour or a minute past its last, or an offset beyond ±14:00)",
        _ => $"'{text}' is not {Expected}",
    };

    private enum Reading
    {
        Read,
        NotIso8601,
        NotOfTheCalendar,
    }

    private static Reading Read(string text, out DateTimeOffset value)
    {
        value = default;
        var match = WithOffset().Match(text);
        if (!match.Success)
        {
            return Reading.NotIso8601;
        }

        // .NET reads at most seven fractional digits: those after them go, and the time goes up a tick if one was not 0.
        var fraction = match.Groups["fraction"];
        var finer = false;
        if (fraction.Length > HeldFractionalDigits)
        {
            finer = fraction.ValueSpan[HeldFractionalDigits..].ContainsAnyExcept('0');
            text = text.Remove(fraction.Index + HeldFractionalDigits, fraction.Length - HeldFractionalDigits);
        }

        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out value)
            || (finer && value.UtcTicks == DateTimeOffset.MaxValue.UtcTicks))
        {
            return Reading.NotOfTheCalendar;
        }

        value = finer ? value.AddTicks(1) : value;
        return Reading.Read;
    }

    /// <summary>
    /// An optional time read from the query string parameter <paramref name="name"/>: null when not given, or when it is
    /// not a time the API reads, with "name: why" added to <paramref name="problems"/>. Read this way rather than bound as
    /// a DateTimeOffset, which would take a time without an offset as the server's local time.
    /// </summary>
    public static DateTimeOffset? FromQueryString(string name, string? text, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (text is null)
        {
            return null;
        }

        if (TryParse(text, out var value))
        {
            return value;
        }

        problems.Add($"{name}: {QueryStringProblem(text)}");
        return null;
    }

    /// <summary>
    /// Why <paramref name="text"/>, read from a query string, is not a time the API reads. A query string decodes an
    /// unencoded '+' to a space, so "…T00:00:00+02:00" arrives as "…T00:00:00 02:00": that is named, with its remedy.
    /// </summary>
    public static string QueryStringProblem(string text) => PlusReadAsSpace().IsMatch(text) && WithOffset().IsMatch(PlusReadAsSpace().Replace(text, "+"))
        ? $"'{text}' is not {Expected}: the '+' of its offset arrived as a space, as an unencoded '+' in a query string does; write it as %2B"
        : Problem(text);

    // ASCII digits only (\d would take any script's) and \z, not $, which lets a trailing newline through.
    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.(?<fraction>[0-9]+))?)?([Zz]|[+-][0-9]{2}:[0-9]{2})\z")]
    private static partial Regex WithOffset();

    [GeneratedRegex(@" (?=[0-9]{2}:[0-9]{2}\z)")]
    private static partial Regex PlusReadAsSpace();
}

/// <summary>
/// Reads <see cref="DateTimeOffset"/> values only as <see cref="Instants"/> allows; writes them as System.Text.Json
/// always did (round-trip ISO 8601).
/// </summary>
public sealed class InstantJsonConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonValueException($"is a {Describe(reader.TokenType)}, not {Instants.Expected}");
        }

        var text = reader.GetString()!;
        return Instants.TryParse(text, out var value) ? value : throw new JsonValueException(Instants.Problem(text));
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value);
    }

    internal static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.Null => "null",
        _ => "string",
    };
}

/// <summary>
/// A JSON value of the right syntax that the field cannot take, with the reason written for the caller.
/// System.Text.Json adds where it was (<see cref="JsonException.Path"/>), which the 400 names.
/// </summary>
public sealed class JsonValueException(string reason) : JsonException(reason);
