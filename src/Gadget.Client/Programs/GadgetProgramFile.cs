using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Gadget;

/// <summary>
/// A user's program as the client sends it: the compiled ELF object and its gadget.yaml, read from
/// a plain object file (with an optional gadget.yaml beside it) or from an OCI image archive as
/// <c>ig image export</c> writes it.
/// </summary>
public sealed class GadgetProgramFile
{
    /// <summary>The largest object or archive read: an agent takes no larger object.</summary>
    public const int MaxBytes = 32 << 20;

    public const string InvalidProgramFileId = "InvalidProgramFile";
    public const string ProgramTooLargeId = "ProgramTooLarge";

    /// <summary>The media type of the layer that holds the ELF object.</summary>
    public const string ProgramMediaType = "application/vnd.gadget.ebpf.program.v1+binary";

    /// <summary>The media type of the config blob, the gadget.yaml.</summary>
    public const string ConfigMediaType = "application/vnd.gadget.config.v1+yaml";

    private const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";

    private GadgetProgramFile(byte[] @object, string? metadata, string name)
    {
        Object = @object;
        Metadata = metadata;
        Name = name;
    }

    /// <summary>The ELF object.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "An ELF object file; the protocol's word for it.")]
    public byte[] Object { get; }

    /// <summary>gadget.yaml's text, or null.</summary>
    public string? Metadata { get; }

    /// <summary>What to call the program when gadget.yaml names none: the file's name without its extensions.</summary>
    public string Name { get; }

    /// <summary>
    /// Reads <paramref name="path"/>: an ELF object (with <paramref name="metadataPath"/> as its
    /// gadget.yaml, if given) or an OCI image archive (which carries its own gadget.yaml).
    /// </summary>
    public static GadgetProgramFile Read(string path, string? metadataPath = null)
    {
        byte[] bytes = ReadCapped(path);
        string name = Path.GetFileName(path).Split('.')[0];
        if (bytes.AsSpan().StartsWith("\u007fELF"u8))
        {
            string? metadata = metadataPath is null ? null : Encoding.UTF8.GetString(ReadCapped(metadataPath));
            return new GadgetProgramFile(bytes, metadata, name);
        }

        if (IsTar(bytes))
        {
            if (metadataPath is not null)
            {
                throw Invalid($"'{path}' is an OCI image archive, which carries its own gadget.yaml: leave out -Metadata.");
            }

            return ReadArchive(path, bytes, name);
        }

        throw Invalid($"'{path}' is neither an eBPF object (an ELF file compiled with clang -target bpf) nor an OCI image archive (a tar as 'ig image export' writes it).");
    }

    private static byte[] ReadCapped(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new GadgetException(InvalidProgramFileId, GadgetErrorKind.NotFound, $"The file '{path}' does not exist.");
        }

        if (info.Length > MaxBytes)
        {
            throw new GadgetException(ProgramTooLargeId, GadgetErrorKind.InvalidArgument,
                $"'{path}' is {info.Length} bytes; a program may take at most {MaxBytes >> 20} MiB ({MaxBytes} bytes).");
        }

        return File.ReadAllBytes(path);
    }

    /// <summary>A POSIX tar has "ustar" at byte 257 of its first header.</summary>
    private static bool IsTar(byte[] bytes) => bytes.Length >= 512 && bytes.AsSpan(257, 5).SequenceEqual("ustar"u8);

    /// <summary>
    /// An OCI image layout (oci-layout, index.json, blobs/sha256/…): the index's manifest, whose
    /// config is the gadget.yaml and one of whose layers, found by its media type, is the ELF. Every
    /// blob read is checked against its digest and size.
    /// </summary>
    private static GadgetProgramFile ReadArchive(string path, byte[] bytes, string name)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        try
        {
            using var reader = new TarReader(new MemoryStream(bytes));
            while (reader.GetNextEntry() is TarEntry entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                {
                    continue;
                }

                string entryName = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
                using var content = new MemoryStream();
                entry.DataStream.CopyTo(content);
                files[entryName] = content.ToArray();
            }
        }
        catch (Exception exception) when (exception is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw Invalid($"'{path}' is not a readable tar archive: {exception.Message}");
        }

        if (!files.ContainsKey("oci-layout") || !files.TryGetValue("index.json", out byte[]? index))
        {
            throw Invalid($"'{path}' is a tar archive but not an OCI image layout: it has no oci-layout and index.json (write one with 'ig image export').");
        }

        try
        {
            JsonElement manifestDescriptor = FindManifest(path, Parse(index, "index.json"));
            JsonElement manifest = Parse(Blob(files, manifestDescriptor, "the manifest"), "the manifest");
            JsonElement config = manifest.TryGetProperty("config", out JsonElement c) ? c : throw Invalid($"'{path}': the manifest has no config.");
            string configType = MediaType(config);
            if (configType != ConfigMediaType)
            {
                throw Invalid($"'{path}': the manifest's config is '{configType}', not a gadget's ({ConfigMediaType}); this is not a gadget image.");
            }

            string metadata = Encoding.UTF8.GetString(Blob(files, config, "the config (gadget.yaml)"));
            JsonElement[] programs = manifest.TryGetProperty("layers", out JsonElement layers) && layers.ValueKind == JsonValueKind.Array
                ? [.. layers.EnumerateArray().Where(l => MediaType(l) == ProgramMediaType)]
                : [];
            if (programs.Length != 1)
            {
                throw Invalid($"'{path}': the image has {programs.Length} layers of media type {ProgramMediaType}; a gadget image has one.");
            }

            return new GadgetProgramFile(Blob(files, programs[0], "the eBPF program layer"), metadata, name);
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw Invalid($"'{path}': the image's JSON is not what an OCI image layout holds: {exception.Message}");
        }
    }

    /// <summary>The index's one manifest (for this machine's architecture when it lists several).</summary>
    private static JsonElement FindManifest(string path, JsonElement index)
    {
        JsonElement[] manifests = index.TryGetProperty("manifests", out JsonElement list) && list.ValueKind == JsonValueKind.Array
            ? [.. list.EnumerateArray()]
            : [];
        if (manifests.Length == 0)
        {
            throw Invalid($"'{path}': index.json lists no manifest.");
        }

        string architecture = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64";
        JsonElement[] images = [.. manifests.Where(m => MediaType(m) is ManifestMediaType or "")];
        JsonElement[] forThisMachine = [.. images.Where(m => m.TryGetProperty("platform", out JsonElement p) && p.TryGetProperty("architecture", out JsonElement a) && a.GetString() == architecture)];
        return forThisMachine.Length > 0 ? forThisMachine[0]
            : images.Length == 1 ? images[0]
            : images.Length == 0 ? throw Invalid($"'{path}': index.json lists no image manifest ({ManifestMediaType}); an index of indexes is not supported.")
            : throw Invalid($"'{path}': index.json lists {images.Length} manifests and none for {architecture}.");
    }

    /// <summary>A blob's bytes, after checking its size and its sha256 digest against its descriptor.</summary>
    private static byte[] Blob(Dictionary<string, byte[]> files, JsonElement descriptor, string what)
    {
        string digest = descriptor.TryGetProperty("digest", out JsonElement d) ? d.GetString() ?? string.Empty : string.Empty;
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 7 + 64 || !digest[7..].All(char.IsAsciiHexDigitLower))
        {
            throw Invalid($"The descriptor of {what} has digest '{digest}'; only sha256 digests are supported.");
        }

        if (!files.TryGetValue("blobs/sha256/" + digest[7..], out byte[]? blob))
        {
            throw Invalid($"The archive lacks {what} (blobs/sha256/{digest[7..]}).");
        }

        if (descriptor.TryGetProperty("size", out JsonElement size) && size.TryGetInt64(out long declared) && declared != blob.Length)
        {
            throw Invalid($"{what} is {blob.Length} bytes; its descriptor says {declared}.");
        }

        string actual = Convert.ToHexString(SHA256.HashData(blob)).ToLowerInvariant();
        if (actual != digest[7..])
        {
            throw Invalid($"{what} does not match its digest: sha256:{actual}, expected {digest}. The archive is damaged or was altered.");
        }

        return blob;
    }

    private static JsonElement Parse(byte[] json, string what)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : throw Invalid($"{what} is not a JSON object.");
    }

    private static string MediaType(JsonElement descriptor)
        => descriptor.TryGetProperty("mediaType", out JsonElement type) && type.ValueKind == JsonValueKind.String ? type.GetString() ?? string.Empty : string.Empty;

    private static GadgetException Invalid(string message) => new(InvalidProgramFileId, GadgetErrorKind.InvalidArgument, message);
}
