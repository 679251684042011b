using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gadget.Agent;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Services;
using Gadget.Bpf;
using Gadget.Commands;
using Gadget.Kubernetes;
using Gadget.Protocol.V1;
using Gadget.Schema;
using Gadget.Tests.Schema;
using Google.Protobuf;
using Grpc.Core;
using k8s.Models;
using Xunit;

namespace Gadget.Tests.Programs;

/// <summary>
/// Users' own programs without a kernel: what the agent makes of an uploaded object, how the
/// client reads plain objects and OCI archives, how parameters are matched and refused, and how
/// a verifier log becomes an error message.
/// </summary>
public sealed class UserProgramTests
{
    private static readonly string ProgramsDirectory = Path.Combine(AppContext.BaseDirectory, "programs");

    private static byte[] Program(string name) => File.ReadAllBytes(Path.Combine(ProgramsDirectory, name + ".bpf.o"));

    private static GadgetDefinition Define(string name, string? metadata = null)
        => new(name, () => Program(name), metadata is null ? GadgetMetadata.Empty : GadgetMetadata.Parse(metadata), hook: null, isUserProgram: true);

    private static AgentOptions Options(bool allowPrograms)
        => AgentOptions.Parse(allowPrograms ? ["--socket", "/tmp/unused.sock", "--allow-programs"] : ["--socket", "/tmp/unused.sock"]);

    [Fact]
    public void AnAgentRefusesProgramsUnlessAllowedAndSaysHow()
    {
        var program = new GadgetProgram { Object = ByteString.CopyFrom(Program("trace_open")), Name = "trace_open" };

        RpcException refused = Assert.Throws<RpcException>(() => UserPrograms.Define(program, Options(allowPrograms: false)));

        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Equal("ProgramsNotAllowed", refused.Trailers.GetValue(AgentErrors.ErrorIdTrailer));
        Assert.Contains("--allow-programs", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("Install-Gadget -AllowPrograms", refused.Status.Detail, StringComparison.Ordinal);

        GadgetDefinition allowed = UserPrograms.Define(program, Options(allowPrograms: true));
        Assert.Equal("trace_open", allowed.Name);
        Assert.True(allowed.IsUserProgram);
        Assert.False(allowed.IsSnapshot);
        Assert.Null(allowed.Schema.TypeName);
    }

    [Fact]
    public void AnAgentRefusesAnObjectOverTheCapNamingTheCap()
    {
        var program = new GadgetProgram { Object = ByteString.CopyFrom(new byte[UserPrograms.MaxObjectBytes + 1]) };

        RpcException refused = Assert.Throws<RpcException>(() => UserPrograms.Define(program, Options(allowPrograms: true)));

        Assert.Equal("ProgramTooLarge", refused.Trailers.GetValue(AgentErrors.ErrorIdTrailer));
        Assert.Contains("32 MiB", refused.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AnObjectThatIsNotAProgramIsRefusedAsInvalid()
    {
        var program = new GadgetProgram { Object = ByteString.CopyFromUtf8("not an ELF object") };

        RpcException refused = Assert.Throws<RpcException>(() => UserPrograms.Define(program, Options(allowPrograms: true)));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Equal("InvalidGadgetObject", refused.Trailers.GetValue(AgentErrors.ErrorIdTrailer));
    }

    [Fact]
    public void AnObjectWithATracerAndASnapshotIsRefusedAndOneWithNoOutputSaysWhatItLacks()
    {
        byte[] both = TestPrograms.Object("markers.bpf.c");
        var refused = Assert.Throws<GadgetObjectException>(() => new GadgetDefinition("markers", () => both, GadgetMetadata.Empty, null, isUserProgram: true));
        Assert.Contains("one object carries one", refused.Message, StringComparison.Ordinal);

        byte[] neither = TestPrograms.Object("no_markers.bpf.c");
        var lacking = Assert.Throws<GadgetObjectException>(() => new GadgetDefinition("plain", () => neither, GadgetMetadata.Empty, null, isUserProgram: true));
        Assert.Contains("declares no output", lacking.Message, StringComparison.Ordinal);
        Assert.Contains("GADGET_TRACER", lacking.Message, StringComparison.Ordinal);
        Assert.Contains("GADGET_SNAPSHOT", lacking.Message, StringComparison.Ordinal);
        Assert.Contains("GADGET_MAPITER", lacking.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASnapshotIsReadFromItsIteratorMarker()
    {
        GadgetDefinition snapshot = Define("snapshot_process");

        Assert.True(snapshot.IsSnapshot);
        Assert.Equal("processes", snapshot.Snapshot!.Name);
        Assert.Equal(["snapshot_tasks"], snapshot.Snapshot.Programs);
        Assert.Equal("process_entry", snapshot.Record.StructName);
        Assert.NotNull(snapshot.Schema.First(Gadget.Schema.WellKnownType.Pid));
        Assert.Throws<InvalidOperationException>(() => snapshot.Tracer);
    }

    [Fact]
    public void ParametersAreTakenByKeyOrVariableNameAndAnUnknownOneListsTheValidOnes()
    {
        GadgetDefinition byName = Define("trace_open");
        GadgetDefinition byKey = Define("trace_open", "params:\n  ebpf:\n    failed:\n      key: only-failed\n      defaultValue: \"false\"\n");

        GadgetParameters.CheckKnown(Request(("failed", "true")), byName);
        GadgetParameters.CheckKnown(Request(("only-failed", "true")), byKey);
        GadgetParameters.CheckKnown(Request(("failed", "true")), byKey); // the variable's own name still works
        var twice = Assert.Throws<GadgetRequestException>(() => GadgetParameters.CheckKnown(Request(("failed", "true"), ("only-failed", "false")), byKey));
        Assert.Equal(GadgetParameters.InvalidParameterId, twice.ErrorId);

        var unknown = Assert.Throws<GadgetRequestException>(() => GadgetParameters.CheckKnown(Request(("verbose", "1")), byKey));
        Assert.Equal("UnknownProgramParameter", unknown.ErrorId);
        Assert.Contains("'verbose'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("only-failed (variable failed): bool, default false", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("prefix: char[32]", unknown.Message, StringComparison.Ordinal);

        GadgetParameter prefix = byName.Parameters.Single(p => p.Key == "prefix");
        Assert.Equal("/etc\0"u8.ToArray(), GadgetParameters.Convert(prefix, "/etc")[..5]);
        var tooLong = Assert.Throws<GadgetRequestException>(() => GadgetParameters.Convert(prefix, new string('x', 40)));
        Assert.Contains("at most 31 bytes", tooLong.Message, StringComparison.Ordinal);
    }

    private static TraceRequest Request(params (string Key, string Value)[] parameters)
    {
        var request = new TraceRequest();
        foreach ((string key, string value) in parameters)
        {
            request.Parameters[key] = value;
        }

        return request;
    }

    [Fact]
    public void TheVerifiersLastLinesAreQuotedNotItsWholeLog()
    {
        string body = string.Join('\n', Enumerable.Range(1, 40).Select(i => $"{i}: (b7) r{i % 10} = 0"));
        string log = "libbpf: prog 'bad': BPF program load failed: Permission denied\n" +
            $"libbpf: prog 'bad': -- BEGIN PROG LOAD LOG --\n{body}\nR6 invalid mem access 'map_value_or_null'\nprocessed 10 insns\n-- END PROG LOAD LOG --\n" +
            "libbpf: prog 'bad': failed to load: -13\n";

        BpfException exception = BpfException.FromErrno(BpfErrorId.LoadFailed, -13, "load the BPF programs of 'bad'", log, privileged: true);

        Assert.Equal(BpfErrorId.VerifierRejected, exception.ErrorId);
        Assert.Contains("prog 'bad'", exception.Message, StringComparison.Ordinal);
        Assert.Contains($"the verifier's last {BpfException.VerifierLinesQuoted} of 42 lines", exception.Message, StringComparison.Ordinal);
        Assert.EndsWith("  R6 invalid mem access 'map_value_or_null'" + Environment.NewLine + "  processed 10 insns", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("  1: (b7)", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InstallAllowProgramsGivesTheAgentItsFlagAndNothingElseChanges()
    {
        V1DaemonSet plain = GadgetManifests.Build(new InstallOptions()).OfType<V1DaemonSet>().Single();
        V1DaemonSet allowing = GadgetManifests.Build(new InstallOptions { AllowPrograms = true }).OfType<V1DaemonSet>().Single();

        Assert.DoesNotContain(GadgetManifests.AllowProgramsFlag, plain.Spec.Template.Spec.Containers[0].Args ?? []);
        Assert.Equal([.. plain.Spec.Template.Spec.Containers[0].Args ?? [], GadgetManifests.AllowProgramsFlag], allowing.Spec.Template.Spec.Containers[0].Args);
    }

    [Theory]
    [InlineData(0x1A4u, "-rw-r--r--")]
    [InlineData(0x41EDu, "drwxr-xr-x")]
    [InlineData(0x81EDu | 0x800u, "-rwsr-xr-x")]
    [InlineData(0x43FFu, "drwxrwxrwt")]
    [InlineData(0xA1FFu, "lrwxrwxrwx")]
    public void FileModesReadAsLsShowsThem(uint mode, string expected) => Assert.Equal(expected, ProgramObject.FileMode(mode));

    [Fact]
    public void APlainObjectIsReadWithItsMetadataAndAnythingElseIsRefused()
    {
        string directory = Directory.CreateTempSubdirectory("gadget-program-file-").FullName;
        try
        {
            string objectPath = Path.Combine(directory, "trace_open.bpf.o");
            File.WriteAllBytes(objectPath, Program("trace_open"));
            string yamlPath = Path.Combine(directory, "gadget.yaml");
            File.WriteAllText(yamlPath, "name: mine\n");

            GadgetProgramFile file = GadgetProgramFile.Read(objectPath, yamlPath);
            Assert.Equal("trace_open", file.Name);
            Assert.Equal("name: mine\n", file.Metadata);
            Assert.Equal(Program("trace_open"), file.Object);

            string text = Path.Combine(directory, "notes.txt");
            File.WriteAllText(text, "hello");
            Assert.Equal(GadgetProgramFile.InvalidProgramFileId, Assert.Throws<GadgetException>(() => GadgetProgramFile.Read(text)).ErrorId);

            string large = Path.Combine(directory, "large.bpf.o");
            using (FileStream stream = File.Create(large))
            {
                stream.SetLength(GadgetProgramFile.MaxBytes + 1L);
            }

            GadgetException tooLarge = Assert.Throws<GadgetException>(() => GadgetProgramFile.Read(large));
            Assert.Equal(GadgetProgramFile.ProgramTooLargeId, tooLarge.ErrorId);
            Assert.Contains("32 MiB", tooLarge.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void AnOciArchiveYieldsItsProgramLayerAndConfigAfterTheirDigestsAreChecked()
    {
        byte[] elf = Program("trace_open");
        using var archive = new OciArchive();
        archive.Write(elf, "name: trace_open\n");

        GadgetProgramFile file = GadgetProgramFile.Read(archive.Path);

        Assert.Equal(elf, file.Object);
        Assert.Equal("name: trace_open\n", file.Metadata);
    }

    [Theory]
    [InlineData("wrong-config-type", "not a gadget's")]
    [InlineData("two-programs", "has 2 layers")]
    [InlineData("no-program", "has 0 layers")]
    [InlineData("bad-digest", "does not match its digest")]
    [InlineData("missing-blob", "The archive lacks")]
    [InlineData("no-layout", "not an OCI image layout")]
    public void AnArchiveThatIsNotAGadgetImageIsRefusedClearly(string damage, string expected)
    {
        using var archive = new OciArchive();
        archive.Write(Program("trace_open"), "name: x\n", damage);

        GadgetException refused = Assert.Throws<GadgetException>(() => GadgetProgramFile.Read(archive.Path));

        Assert.Equal(GadgetProgramFile.InvalidProgramFileId, refused.ErrorId);
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
    }

    /// <summary>An OCI image layout in a tar, as 'ig image export' writes one, optionally damaged.</summary>
    private sealed class OciArchive : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("gadget-oci-").FullName;

        public string Path => System.IO.Path.Combine(_directory, "image.tar");

        public void Write(byte[] elf, string yaml, string damage = "")
        {
            var blobs = new Dictionary<string, byte[]>();
            object Descriptor(byte[] bytes, string mediaType)
            {
                string digest = Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
                blobs[digest] = bytes;
                return new Dictionary<string, object> { ["mediaType"] = mediaType, ["digest"] = "sha256:" + digest, ["size"] = bytes.Length };
            }

            object config = Descriptor(Encoding.UTF8.GetBytes(yaml), damage == "wrong-config-type" ? "application/vnd.oci.image.config.v1+json" : GadgetProgramFile.ConfigMediaType);
            object program = Descriptor(elf, GadgetProgramFile.ProgramMediaType);
            object[] layers = damage switch
            {
                "two-programs" => [program, program],
                "no-program" => [],
                _ => [program],
            };
            byte[] manifest = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["schemaVersion"] = 2, ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["config"] = config, ["layers"] = layers });
            object manifestDescriptor = Descriptor(manifest, "application/vnd.oci.image.manifest.v1+json");
            byte[] index = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["schemaVersion"] = 2, ["manifests"] = new[] { manifestDescriptor } });
            if (damage == "bad-digest")
            {
                string digest = Convert.ToHexString(SHA256.HashData(elf)).ToLowerInvariant();
                byte[] altered = (byte[])elf.Clone();
                altered[^1] ^= 0xff;
                blobs[digest] = altered;
            }

            if (damage == "missing-blob")
            {
                blobs.Remove(Convert.ToHexString(SHA256.HashData(elf)).ToLowerInvariant());
            }

            using FileStream stream = File.Create(Path);
            using var writer = new TarWriter(stream, TarEntryFormat.Pax);
            if (damage != "no-layout")
            {
                Add(writer, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray());
            }

            Add(writer, "index.json", index);
            foreach ((string digest, byte[] bytes) in blobs)
            {
                Add(writer, "blobs/sha256/" + digest, bytes);
            }
        }

        private static void Add(TarWriter writer, string name, byte[] bytes)
            => writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });

        public void Dispose() => Directory.Delete(_directory, recursive: true);
    }
}
