using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Ingest;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>What a successful ingest answers.</summary>
public sealed record IngestResponse(
    int Received,
    int Accepted,
    long FromSequence,
    long ToSequence,
    bool Replayed,
    DateTimeOffset CommittedAt,
    IReadOnlyList<RowError> Rejected);

/// <summary>
/// <c>POST /ingest/{objectModel}?clientId=…</c>: rows as a JSON array or CSV with a header row. <c>policy=reject</c> (default) stores
/// nothing when any row is invalid; <c>policy=keep</c> stores the valid rows and lists the rejected ones.
/// An <c>Idempotency-Key</c> header makes a retried request a no-op. CSV may name its charset (UTF-8 when it does
/// not); JSON is UTF-8 (RFC 8259). Either is handed to the ingest grain as UTF-8.
/// </summary>
public static class IngestApi
{
    public static IEndpointRouteBuilder MapIngestApi(this IEndpointRouteBuilder app)
    {
        var limits = app.ServiceProvider.GetRequiredService<IOptions<GatewayLimits>>().Value;
        app.MapPost("/ingest/{objectModel}", IngestAsync)
            .RequireAuthorization(Policies.Analyze)
            .WithBodySizeLimit(limits.MaxIngestBodyBytes)
            .WithMetadata(AuditedWithoutBody.Instance)
            .WithTags("Ingest")
            .WithName("Ingest")
            .Accepts<object[]>("application/json", "text/csv")
            .Produces<IngestResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout)
            .AcceptsOptionalHeader(
                "Idempotency-Key",
                "Names the batch (e.g. a UUID, at most 200 characters): a retry with the same key and rows is answered "
                + "from the first commit (replayed) and stores nothing again; other rows under a used key are refused (422).",
                maxLength: 200);

        return app;
    }

    private static async Task<IResult> IngestAsync(
        string objectModel,
        string? clientId,
        string? policy,
        HttpRequest request,
        IClusterClient cluster,
        IOptions<GatewayLimits> options,
        CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(clientId))
        {
            return Problems.BadRequest("Missing client", "Name the client with the query parameter clientId, e.g. /ingest/orders?clientId=acme.");
        }

        IngestPolicy ingestPolicy;
        switch (policy)
        {
            case null or "" or "reject":
                ingestPolicy = IngestPolicy.RejectBatch;
                break;
            case "keep":
                ingestPolicy = IngestPolicy.KeepValid;
                break;
            default:
                return Problems.BadRequest("Unknown policy", $"policy '{policy}' is neither 'reject' (store nothing if any row is invalid) nor 'keep' (store the valid rows).");
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || FormatOf(mediaType.MediaType) is not { } format)
        {
            return UnsupportedMediaType($"Send rows as application/json or text/csv (with a header row); got '{request.ContentType ?? "no content type"}'.");
        }

        var charset = HeaderUtilities.RemoveQuotes(mediaType.Charset).Value;
        var isUtf8 = charset is null || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase);
        if (format == IngestFormat.Json && !isUtf8)
        {
            return UnsupportedMediaType($"JSON is UTF-8 (RFC 8259); charset '{charset}' is not accepted. Send the body as UTF-8, with charset=utf-8 or no charset.");
        }

        if (format == IngestFormat.Csv && !isUtf8 && !CsvCharsets.ContainsKey(charset!))
        {
            return UnsupportedMediaType($"charset '{charset}' is not supported for CSV; send one of {string.Join(", ", SupportedCsvCharsets)}.");
        }

        var idempotencyKeys = request.Headers["Idempotency-Key"];
        var idempotencyProblem = idempotencyKeys switch
        {
            { Count: > 1 } => $"Idempotency-Key: is sent {idempotencyKeys.Count} times; send it once, or not at all",
            { Count: 1 } when string.IsNullOrWhiteSpace(idempotencyKeys[0]) =>
                "Idempotency-Key: is empty; name the batch (e.g. a UUID), or leave the header out to send without one",
            { Count: 1 } when idempotencyKeys[0]!.Length > 200 => "Idempotency-Key: may be at most 200 characters",
            _ => null,
        };
        if (idempotencyProblem is not null)
        {
            return Problems.Validation([idempotencyProblem]);
        }

        var body = await ReadBodyAsync(request, options.Value.MaxIngestBodyBytes, ct);
        if (body is null)
        {
            return TooLarge($"The body exceeds the limit of {options.Value.MaxIngestBodyBytes} bytes.");
        }

        if (!isUtf8)
        {
            body = ToUtf8(body, CsvCharsets[charset!]);
        }

        var idempotencyKey = idempotencyKeys.FirstOrDefault();

        var result = await cluster.GetGrain<IIngestGrain>(IngestKeys.For(clientId, objectModel))
            .Ingest(new IngestRequest(format, body, ingestPolicy, idempotencyKey));

        return result.Status switch
        {
            IngestStatus.Committed or IngestStatus.Replayed => TypedResults.Ok(new IngestResponse(
                result.Received, result.Accepted, result.FromSequence, result.ToSequence,
                result.Status == IngestStatus.Replayed, result.CommittedAt, result.Errors)),
            IngestStatus.UnknownClient or IngestStatus.UnknownObjectModel => Problems.NotFound(result.Errors[0].Reason),
            IngestStatus.TooLarge => TooLarge(result.Errors[0].Reason),
            IngestStatus.IdempotencyKeyReused => TypedResults.Problem(result.Errors[0].Reason, statusCode: StatusCodes.Status422UnprocessableEntity,
                title: "Idempotency-Key already used", extensions: new Dictionary<string, object?> { ["keyUsedAt"] = result.CommittedAt }),
            IngestStatus.Unavailable => Unavailable(result.Errors[0].Reason, request.HttpContext),
            _ => Problems.BadRequest(
                "The batch was refused",
                result.Received == 0
                    ? result.Errors[0].Reason
                    : $"{result.Errors.Select(e => e.Row).Distinct().Count()} of {result.Received} rows are invalid; nothing was stored.",
                new Dictionary<string, object?> { ["errors"] = result.Errors }),
        };
    }

    private static IResult Unavailable(string detail, HttpContext context)
    {
        context.Response.Headers.RetryAfter = "2";
        return TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable");
    }

    private static IngestFormat? FormatOf(StringSegment mediaType) =>
        mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ? IngestFormat.Json
        : mediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase) ? IngestFormat.Csv
        : null;

    private static IResult UnsupportedMediaType(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");

    /// <summary>The charsets besides UTF-8 that CSV may name: those .NET decodes without an extra encoding provider.</summary>
    private enum CsvCharset
    {
        Ascii,
        Latin1,
        Utf16,
        Utf16BigEndian,
        Utf16LittleEndian,
        Utf32,
        Utf32BigEndian,
        Utf32LittleEndian,
    }

    private static readonly Dictionary<string, CsvCharset> CsvCharsets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["us-ascii"] = CsvCharset.Ascii,
        ["iso-8859-1"] = CsvCharset.Latin1,
        ["latin1"] = CsvCharset.Latin1,
        ["utf-16"] = CsvCharset.Utf16,
        ["utf-16be"] = CsvCharset.Utf16BigEndian,
        ["utf-16le"] = CsvCharset.Utf16LittleEndian,
        ["utf-32"] = CsvCharset.Utf32,
        ["utf-32be"] = CsvCharset.Utf32BigEndian,
        ["utf-32le"] = CsvCharset.Utf32LittleEndian,
    };

    private static readonly string[] SupportedCsvCharsets = ["utf-8", .. CsvCharsets.Keys];

    /// <summary>
    /// Re-encodes a CSV body as the UTF-8 the ingest grain reads. A sequence the charset cannot decode becomes the byte
    /// 0xFF, which is never UTF-8, so the grain refuses the batch naming its row and column as it does for invalid UTF-8,
    /// rather than the edge guessing or replacing what the client sent.
    /// </summary>
    private static byte[] ToUtf8(byte[] body, CsvCharset charset)
    {
        if (charset == CsvCharset.Latin1)
        {
            return Encoding.UTF8.GetBytes(Encoding.Latin1.GetString(body)); // every byte is a character of Latin-1
        }

        if (charset == CsvCharset.Ascii)
        {
            // ASCII is UTF-8 as it is. The body is this request's own copy, so a byte outside ASCII is marked in place.
            for (var i = body.AsSpan().IndexOfAnyExceptInRange((byte)0, (byte)0x7F); i >= 0 && i < body.Length; i++)
            {
                if (body[i] >= 0x80)
                {
                    body[i] = 0xFF;
                }
            }

            return body;
        }

        var utf8 = new ArrayBufferWriter<byte>(body.Length);
        ReadOnlySpan<byte> bytes = body;
        if (charset is CsvCharset.Utf32 or CsvCharset.Utf32BigEndian or CsvCharset.Utf32LittleEndian)
        {
            // Without a byte order mark, "utf-32" is big-endian (as RFC 2781 says of UTF-16); a mark is kept and read as
            // U+FEFF, which the grain skips.
            var bigEndian = charset == CsvCharset.Utf32BigEndian || (charset == CsvCharset.Utf32 && !bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0, 0]));
            for (; bytes.Length >= 4; bytes = bytes[4..])
            {
                var value = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);
                Write(utf8, value <= 0x10FFFF && Rune.IsValid((int)value) ? new Rune((int)value) : null);
            }
        }
        else
        {
            var bigEndian = charset == CsvCharset.Utf16BigEndian || (charset == CsvCharset.Utf16 && !bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]));
            var units = new char[bytes.Length / 2];
            for (var i = 0; i < units.Length; i++)
            {
                var unit = bytes.Slice(2 * i, 2);
                units[i] = (char)(bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(unit) : BinaryPrimitives.ReadUInt16LittleEndian(unit));
            }

            bytes = bytes[(2 * units.Length)..];
            for (ReadOnlySpan<char> rest = units; !rest.IsEmpty;)
            {
                var status = Rune.DecodeFromUtf16(rest, out var rune, out var consumed);
                Write(utf8, status == OperationStatus.Done ? rune : null);
                rest = rest[consumed..];
            }
        }

        if (!bytes.IsEmpty)
        {
            Write(utf8, null); // a code unit cut short at the end
        }

        return utf8.WrittenSpan.ToArray();

        static void Write(ArrayBufferWriter<byte> utf8, Rune? rune)
        {
            var span = utf8.GetSpan(4);
            if (rune is { } decoded)
            {
                utf8.Advance(decoded.EncodeToUtf8(span));
            }
            else
            {
                span[0] = 0xFF;
                utf8.Advance(1);
            }
        }
    }

    private static IResult TooLarge(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large");

    /// <summary>Reads the body, or returns null as soon as it passes the limit.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, long limit, CancellationToken ct)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
