using System.Security.Cryptography;

namespace AnalyticsEngine.Archive;

/// <summary>Where archives go, and how long restored rows and a query's hold last.</summary>
public sealed class ArchiveOptions
{
    /// <summary>
    /// The cold storage's root directory. Every silo must see the same files: a volume they share (an NFS or
    /// object-store mount in Kubernetes). Relative paths are from the silo's working directory.
    /// </summary>
    public string Directory { get; set; } = "archive";

    /// <summary>How long restored rows stay in the active tables after the last query that read them.</summary>
    public TimeSpan RestoreFor { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a run waits at most for a query that asked for old rows and never said it ended (longer than any query runs).</summary>
    public TimeSpan QueryHold { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The largest segment file <c>GET /clients/{id}/archive/{segmentId}</c> hands out whole.</summary>
    public int MaxDownloadBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>How often archival runs for a client with a policy.</summary>
    public TimeSpan RunEvery { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>
/// Cold storage for archived segments: files under one root, written whole (to a temporary name, flushed to disk,
/// then renamed) so a reader never sees a partial file, and checked against their SHA-256 when read.
/// </summary>
public sealed class ColdStorage(ArchiveOptions options)
{
    private readonly string _root = Path.GetFullPath(options.Directory);

    /// <summary>Writes a file at <paramref name="location"/> (relative) through <paramref name="write"/>; answers its size and SHA-256.</summary>
    public async Task<(long Bytes, string Sha256)> WriteAsync(string location, Func<Stream, Task> write, CancellationToken ct)
    {
        var path = PathOf(location);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".partial";
        try
        {
            await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await write(file);
                await file.FlushAsync(ct);
                file.Flush(flushToDisk: true);
            }

            // The digest of what is on disk, read back: what every later read is checked against.
            string sha256;
            await using (var written = new FileStream(temporary, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan))
            {
                sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(written, ct));
            }

            var bytes = new FileInfo(temporary).Length;
            File.Move(temporary, path, overwrite: true);
            return (bytes, sha256);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Opens a file for reading after checking it is whole: its SHA-256 must be <paramref name="sha256"/>.</summary>
    public async Task<Stream> OpenCheckedAsync(string location, string sha256, CancellationToken ct)
    {
        var path = PathOf(location);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        try
        {
            var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
            if (!string.Equals(actual, sha256, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"Archive file '{location}' is damaged: its SHA-256 is {actual}, the index says {sha256}.");
            }

            stream.Position = 0;
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    public void Delete(string location) => File.Delete(PathOf(location));

    /// <summary>
    /// The files under <paramref name="folder"/> (a client's) last written before <paramref name="before"/>, as locations
    /// relative to the root: what a sweep compares with the index.
    /// </summary>
    public IEnumerable<string> FilesUnder(string folder, DateTimeOffset before)
    {
        var directory = PathOf(folder);
        if (!Directory.Exists(directory))
        {
            return [];
        }

        return Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(path => File.GetLastWriteTimeUtc(path) < before.UtcDateTime)
            .Select(path => Path.GetRelativePath(_root, path).Replace(Path.DirectorySeparatorChar, '/'))
            .ToList();
    }

    private string PathOf(string location)
    {
        var path = Path.GetFullPath(Path.Combine(_root, location));
        // Locations are built by the engine from ids, but a path must never leave the root whatever the index says.
        var relative = Path.GetRelativePath(_root, path);
        if (relative == "." || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            throw new ArgumentException($"Archive location '{location}' is outside the cold storage.", nameof(location));
        }

        return path;
    }
}
