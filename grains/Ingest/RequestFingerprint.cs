using System.Security.Cryptography;
using System.Text;

namespace AnalyticsEngine.Ingest;

/// <summary>
/// The SHA-256 of what an ingest request asks to store, kept with its idempotency key so that a retry can be told
/// from a different request that reuses the key (which would otherwise be answered "replayed" and its rows lost).
/// </summary>
/// <remarks>
/// It covers the parsed rows, not the body's bytes: a retry that serializes the same rows again (other whitespace,
/// key order or number spelling, CSV instead of JSON) is the same request, while any changed value is not. Each row
/// is hashed as its non-null fields by name, in name order, so a field the object model gains later (null in rows
/// sent before) or a reordering of its fields leaves the fingerprint of an earlier request as it was.
/// </remarks>
public static class RequestFingerprint
{
    public static byte[] Of(ParseOutcome parsed, EventRowLayout layout)
    {
        var slots = layout.Slots.OrderBy(s => s.Field.Name, StringComparer.Ordinal).ToArray();
        using var sha = SHA256.Create();
        using (var hashed = new CryptoStream(Stream.Null, sha, CryptoStreamMode.Write))
        using (var writer = new BinaryWriter(new BufferedStream(hashed, 64 * 1024), Encoding.UTF8))
        {
            // Rows rejected under the keep policy are only counted: their values are stored nowhere.
            writer.Write(parsed.Received);
            writer.Write(parsed.Rows.Count);
            foreach (var row in parsed.Rows)
            {
                writer.Write(slots.Count(s => !IsNull(row, s)));
                foreach (var slot in slots)
                {
                    if (IsNull(row, slot))
                    {
                        continue;
                    }

                    // Strings are written length-first, so no two different rows give the same bytes.
                    writer.Write(slot.Field.Name);
                    if (slot.IsText)
                    {
                        writer.Write((byte)'t');
                        writer.Write(row.Texts[slot.Index]!);
                    }
                    else
                    {
                        // -0 and 0 are the same value to every KPI, whichever a client's serializer writes.
                        var number = row.Numbers[slot.Index];
                        writer.Write((byte)'n');
                        writer.Write(number == 0 ? 0d : number);
                    }
                }
            }
        }

        return sha.Hash!;
    }

    private static bool IsNull(ParsedRow row, FieldSlot slot) =>
        slot.IsText ? row.Texts[slot.Index] is null : double.IsNaN(row.Numbers[slot.Index]);
}
