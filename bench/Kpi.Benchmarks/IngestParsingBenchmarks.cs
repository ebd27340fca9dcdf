using System.Globalization;
using System.Text;
using AnalyticsEngine.Ingest;
using BenchmarkDotNet.Attributes;

namespace AnalyticsEngine.Kpi.Benchmarks;

/// <summary>
/// The ingest grain's parsing of one request's rows, CSV and JSON, into rows of the orders model: every value
/// checked and converted (times, flags, numbers), as before a commit.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortInProcess))]
public class IngestParsingBenchmarks
{
    private static readonly EventRowLayout Orders = ObjectModelTables.BuiltIn.Get("orders").Layout;
    private byte[] _csv = [];
    private byte[] _json = [];

    /// <summary>Rows per request: a typical batch, and a large one.</summary>
    [Params(100, 10_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var csv = new StringBuilder("order_id,ordered_at,order_value,promised_at,delivered_at,on_time,in_full,damage_free,documentation_complete,status,carrier\n");
        var json = new StringBuilder("[");
        var start = new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < Rows; i++)
        {
            var at = start.AddSeconds(i * 7).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
            var promised = start.AddSeconds(i * 7).AddDays(1).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            var value = (i % 997 * 1.25).ToString(CultureInfo.InvariantCulture);
            var flag = i % 3 == 0 ? "false" : "true";
            csv.Append(CultureInfo.InvariantCulture, $"O-{i},{at},{value},{promised},,{flag},true,true,{flag},delivered,\"DHL, Express\"\n");
            json.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture,
                $"{{\"order_id\":\"O-{i}\",\"ordered_at\":\"{at}\",\"order_value\":{value},\"promised_at\":\"{promised}\",\"on_time\":{flag},\"in_full\":true,\"damage_free\":true,\"documentation_complete\":{flag},\"status\":\"delivered\",\"carrier\":\"DHL, Express\"}}");
        }

        _csv = Encoding.UTF8.GetBytes(csv.ToString());
        _json = Encoding.UTF8.GetBytes(json.Append(']').ToString());
        if (CsvRowParser.Parse(_csv, Orders, int.MaxValue).Rows.Count != Rows || JsonRowParser.Parse(_json, Orders, int.MaxValue).Rows.Count != Rows)
        {
            throw new InvalidOperationException("the generated rows were refused");
        }
    }

    [Benchmark]
    public object Csv() => CsvRowParser.Parse(_csv, Orders, int.MaxValue);

    [Benchmark]
    public object Json() => JsonRowParser.Parse(_json, Orders, int.MaxValue);
}
