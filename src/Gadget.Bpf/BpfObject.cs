using System.Runtime.InteropServices;
using System.Text;

namespace Gadget.Bpf;

/// <summary>Options for opening a BPF object.</summary>
public sealed class BpfOpenOptions
{
    /// <summary>The kernel BTF that CO-RE relocates against.</summary>
    public string KernelBtfPath { get; init; } = DefaultKernelBtfPath;

    public const string DefaultKernelBtfPath = "/sys/kernel/btf/vmlinux";
}

/// <summary>
/// One compiled BPF object (an ELF file produced by clang) between open and close: its constants
/// are set, its programs chosen, then it is loaded into the kernel and its programs attached.
/// </summary>
public sealed unsafe class BpfObject : IDisposable
{
    private readonly BpfObjectHandle _handle;
    private readonly string _name;
    private byte[]? _rodata;
    private bool _loaded;

    private BpfObject(BpfObjectHandle handle, string name)
    {
        _handle = handle;
        _name = name;
    }

    /// <summary>The object's name, as given to <see cref="Open"/>.</summary>
    public string Name => _name;

    /// <summary>Parses an ELF image. Nothing reaches the kernel until <see cref="Load"/>.</summary>
    public static BpfObject Open(ReadOnlySpan<byte> elf, string name, BpfOpenOptions? options = null)
    {
        options ??= new BpfOpenOptions();
        if (!File.Exists(options.KernelBtfPath))
        {
            throw new BpfException(
                BpfErrorId.KernelBtfMissing,
                $"The kernel's BTF type information was not found at '{options.KernelBtfPath}'. " +
                "Gadget needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (every current distribution kernel is).",
                BpfException.ENOENT);
        }

        using LibbpfLog.CaptureScope capture = LibbpfLog.Capture();
        byte[] nameBytes = NullTerminated(name);
        // Given a path, libbpf parses that BTF twice per load: as the kernel's, then again as CO-RE's
        // override (about 20 ms each for vmlinux). The kernel's own it finds and parses once itself.
        byte[]? btfPath = options.KernelBtfPath == BpfOpenOptions.DefaultKernelBtfPath ? null : NullTerminated(options.KernelBtfPath);
        fixed (byte* elfPtr = elf)
        fixed (byte* namePtr = nameBytes)
        fixed (byte* btfPtr = btfPath)
        {
            var opts = new Interop.Libbpf.bpf_object_open_opts
            {
                sz = (nuint)sizeof(Interop.Libbpf.bpf_object_open_opts),
                object_name = namePtr,
                btf_custom_path = btfPtr,
            };
            nint obj = Interop.Libbpf.bpf_object__open_mem(elfPtr, (nuint)elf.Length, &opts);
            if (obj == 0)
            {
                throw BpfException.FromErrno(BpfErrorId.InvalidObject, Marshal.GetLastPInvokeError(), $"open BPF object '{name}'", LibbpfLog.Text);
            }

            return new BpfObject(new BpfObjectHandle(obj), name);
        }
    }

    /// <summary>
    /// Sets a <c>const volatile</c> global before load. The verifier then sees it as a constant
    /// and removes the branches it disables.
    /// </summary>
    public void SetConstant(string variable, ReadOnlySpan<byte> value)
    {
        EnsureNotLoaded();
        nint map = FindMap(".rodata");
        if (_rodata is null)
        {
            nuint size;
            void* initial = Interop.Libbpf.bpf_map__initial_value(map, &size);
            _rodata = new ReadOnlySpan<byte>(initial, checked((int)size)).ToArray();
        }

        (uint offset, uint size) slot = FindRodataVariable(variable);
        if (value.Length > slot.size)
        {
            throw new ArgumentException($"{value.Length} bytes do not fit '{variable}' ({slot.size} bytes).", nameof(value));
        }

        Span<byte> target = _rodata.AsSpan((int)slot.offset, (int)slot.size);
        target.Clear();
        value.CopyTo(target);
    }

    /// <summary>Sets a numeric or boolean <c>const volatile</c> global.</summary>
    public void SetConstant<T>(string variable, T value) where T : unmanaged
        => SetConstant(variable, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    /// <summary>Chooses whether a program is loaded at all (an unloaded program costs nothing).</summary>
    public void SetAutoload(string program, bool autoload)
    {
        EnsureNotLoaded();
        Check(Interop.Libbpf.bpf_program__set_autoload(FindProgram(program), autoload), BpfErrorId.LoadFailed, $"choose program '{program}'");
    }

    /// <summary>The object's programs in ELF order, with the section that names each one's hook.</summary>
    public IReadOnlyList<BpfProgramInfo> Programs
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            var programs = new List<BpfProgramInfo>();
            nint obj = _handle.DangerousGetHandle();
            for (nint prog = Interop.Libbpf.bpf_object__next_program(obj, 0); prog != 0; prog = Interop.Libbpf.bpf_object__next_program(obj, prog))
            {
                programs.Add(new BpfProgramInfo(
                    Marshal.PtrToStringUTF8((nint)Interop.Libbpf.bpf_program__name(prog)) ?? string.Empty,
                    Marshal.PtrToStringUTF8((nint)Interop.Libbpf.bpf_program__section_name(prog)) ?? string.Empty,
                    Interop.Libbpf.bpf_program__autoload(prog)));
            }

            return programs;
        }
    }

    /// <summary>A map's size as the object declares it, or as <see cref="SetMaxEntries"/> last set it (for a ring buffer: bytes).</summary>
    public uint GetMaxEntries(string map) => Interop.Libbpf.bpf_map__max_entries(FindMap(map));

    /// <summary>Resizes a map (for a ring buffer: its size in bytes, a power of two of pages).</summary>
    public void SetMaxEntries(string map, uint maxEntries)
    {
        EnsureNotLoaded();
        Check(Interop.Libbpf.bpf_map__set_max_entries(FindMap(map), maxEntries), BpfErrorId.MapFailed, $"size map '{map}'");
    }

    /// <summary>
    /// Everything set before load that decides what the kernel gets: the constants, which programs
    /// load, every map's size. Two objects of one ELF image with equal keys load the same programs,
    /// so one loaded object can stand in for the other.
    /// </summary>
    public string ConfigurationKey()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var key = new StringBuilder();
        nint obj = _handle.DangerousGetHandle();
        if (_rodata is not null)
        {
            key.Append(Convert.ToHexString(_rodata));
        }

        for (nint prog = Interop.Libbpf.bpf_object__next_program(obj, 0); prog != 0; prog = Interop.Libbpf.bpf_object__next_program(obj, prog))
        {
            key.Append(Interop.Libbpf.bpf_program__autoload(prog) ? '+' : '-');
        }

        for (nint map = Interop.Libbpf.bpf_object__next_map(obj, 0); map != 0; map = Interop.Libbpf.bpf_object__next_map(obj, map))
        {
            key.Append('/').Append(Interop.Libbpf.bpf_map__max_entries(map));
        }

        return key.ToString();
    }

    /// <summary>Relocates against the kernel's BTF, creates the maps and loads the programs.</summary>
    public void Load()
    {
        EnsureNotLoaded();
        using LibbpfLog.CaptureScope capture = LibbpfLog.Capture();
        if (_rodata is not null)
        {
            fixed (byte* data = _rodata)
            {
                Check(Interop.Libbpf.bpf_map__set_initial_value(FindMap(".rodata"), data, (nuint)_rodata.Length), BpfErrorId.LoadFailed, "set the constants");
            }
        }

        int result = Interop.Libbpf.bpf_object__load(_handle.DangerousGetHandle());
        if (result != 0)
        {
            throw BpfException.FromErrno(BpfErrorId.LoadFailed, result, $"load the BPF programs of '{_name}'", LibbpfLog.Text);
        }

        _loaded = true;
    }

    /// <summary>Attaches a loaded program to the hook its section names.</summary>
    public BpfLink Attach(string program)
    {
        if (!_loaded)
        {
            throw new InvalidOperationException("Load the object before attaching its programs.");
        }

        using LibbpfLog.CaptureScope capture = LibbpfLog.Capture();
        nint prog = FindProgram(program);
        nint link = Interop.Libbpf.bpf_program__attach(prog);
        if (link == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string section = Marshal.PtrToStringUTF8((nint)Interop.Libbpf.bpf_program__section_name(prog)) ?? string.Empty;
            if (Math.Abs(errno) is BpfException.ENOENT or BpfException.ENOTSUP or BpfException.EOPNOTSUPP && HookKind(section) is string kind)
            {
                throw new BpfException(BpfErrorId.HookUnsupported,
                    $"Could not attach program '{program}' (SEC(\"{section}\")): this kernel has no {kind}. Use a tracepoint, raw tracepoint or tp_btf hook instead." +
                    (string.IsNullOrWhiteSpace(LibbpfLog.Text) ? string.Empty : Environment.NewLine + LibbpfLog.Text.Trim()),
                    Math.Abs(errno));
            }

            throw BpfException.FromErrno(BpfErrorId.AttachFailed, errno, $"attach program '{program}'", LibbpfLog.Text);
        }

        return new BpfLink(new BpfLinkHandle(link), program);
    }

    /// <summary>The kind of hook a section names when the kernel may lack it as a whole, or null.</summary>
    private static string? HookKind(string section)
    {
        string prefix = section.Split('/')[0].Split('.')[0];
        return prefix switch
        {
            "kprobe" or "kretprobe" or "ksyscall" or "kretsyscall" or "kprobe_multi" or "kretprobe_multi" => "kprobes (CONFIG_KPROBES / CONFIG_KPROBE_EVENTS)",
            "uprobe" or "uretprobe" or "usdt" => "uprobes (CONFIG_UPROBE_EVENTS)",
            "tracepoint" or "tp" => "such tracepoint",
            _ => null,
        };
    }

    /// <summary>
    /// Attaches a loaded iterator program (SEC("iter/task") …) and runs it once: the bytes it wrote
    /// with bpf_seq_write, read until the iterator ends.
    /// </summary>
    public byte[] RunIterator(string program, int maxBytes)
    {
        if (!_loaded)
        {
            throw new InvalidOperationException("Load the object before running its iterators.");
        }

        using LibbpfLog.CaptureScope capture = LibbpfLog.Capture();
        nint link = Interop.Libbpf.bpf_program__attach_iter(FindProgram(program), null);
        if (link == 0)
        {
            throw BpfException.FromErrno(BpfErrorId.AttachFailed, Marshal.GetLastPInvokeError(), $"attach iterator '{program}'", LibbpfLog.Text);
        }

        using var linkHandle = new BpfLinkHandle(link);
        int fd = Interop.Libbpf.bpf_iter_create(Interop.Libbpf.bpf_link__fd(link));
        if (fd < 0)
        {
            throw BpfException.FromErrno(BpfErrorId.AttachFailed, Marshal.GetLastPInvokeError(), $"create iterator '{program}'");
        }

        using var iterator = new FileDescriptorHandle(fd);
        var output = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        fixed (byte* bufferPtr = buffer)
        {
            while (true)
            {
                nint read = Interop.Libc.read(fd, bufferPtr, (nuint)buffer.Length);
                if (read < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == BpfException.EINTR)
                    {
                        continue;
                    }

                    throw BpfException.FromErrno(BpfErrorId.AttachFailed, errno, $"read iterator '{program}'");
                }

                if (read == 0)
                {
                    break;
                }

                if (output.Length + read > maxBytes)
                {
                    throw new BpfException(BpfErrorId.MapFailed, $"Iterator '{program}' wrote more than {maxBytes} bytes; its snapshot was cut off.", BpfException.E2BIG);
                }

                output.Write(buffer, 0, (int)read);
            }
        }

        return output.ToArray();
    }

    /// <summary>True when the object has a <c>const volatile</c> global called <paramref name="variable"/> (in .rodata).</summary>
    public bool HasConstant(string variable)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        try
        {
            _ = FindRodataVariable(variable);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>True when the object declares a map called <paramref name="name"/>.</summary>
    public bool HasMap(string name)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        byte[] bytes = NullTerminated(name);
        fixed (byte* namePtr = bytes)
        {
            return Interop.Libbpf.bpf_object__find_map_by_name(_handle.DangerousGetHandle(), namePtr) != 0;
        }
    }

    /// <summary>
    /// Attaches a loaded cgroup program (cgroup_skb, cgroup/sock …) to a cgroup v2 directory, through a
    /// BPF link: it runs for every socket in that cgroup and below, beside other programs there.
    /// </summary>
    public BpfLink AttachCgroup(string program, string cgroupPath)
    {
        if (!_loaded)
        {
            throw new InvalidOperationException("Load the object before attaching its programs.");
        }

        using FileDescriptorHandle cgroup = OpenCgroup(cgroupPath);
        using LibbpfLog.CaptureScope capture = LibbpfLog.Capture();
        nint link = Interop.Libbpf.bpf_program__attach_cgroup(FindProgram(program), cgroup.Fd);
        if (link == 0)
        {
            throw BpfException.FromErrno(BpfErrorId.AttachFailed, Marshal.GetLastPInvokeError(), $"attach program '{program}' to cgroup '{cgroupPath}'", LibbpfLog.Text);
        }

        // The link holds its own reference to the cgroup; the directory descriptor can go.
        return new BpfLink(new BpfLinkHandle(link), program);
    }

    private static FileDescriptorHandle OpenCgroup(string cgroupPath)
    {
        byte[] path = NullTerminated(cgroupPath);
        int fd;
        fixed (byte* pathPtr = path)
        {
            fd = Interop.Libc.open(pathPtr, Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC);
        }

        return fd >= 0
            ? new FileDescriptorHandle(fd)
            : throw BpfException.FromErrno(BpfErrorId.AttachFailed, Marshal.GetLastPInvokeError(), $"open cgroup '{cgroupPath}'");
    }

    /// <summary>A map of the loaded object.</summary>
    public BpfMap GetMap(string name)
    {
        if (!_loaded)
        {
            throw new InvalidOperationException("Load the object before using its maps.");
        }

        nint map = FindMap(name);
        return new BpfMap(Interop.Libbpf.bpf_map__fd(map), name, (int)Interop.Libbpf.bpf_map__key_size(map));
    }

    /// <summary>The layout of a struct as the compiler laid it out (from the object's BTF).</summary>
    public BtfStruct? FindStruct(string name)
    {
        nint btf = Interop.Libbpf.bpf_object__btf(_handle.DangerousGetHandle());
        if (btf == 0)
        {
            return null;
        }

        byte[] nameBytes = NullTerminated(name);
        int id;
        fixed (byte* namePtr = nameBytes)
        {
            id = Interop.Libbpf.btf__find_by_name_kind(btf, namePtr, Interop.Libbpf.BTF_KIND_STRUCT);
        }

        if (id <= 0)
        {
            return null;
        }

        Interop.Libbpf.btf_type* type = Interop.Libbpf.btf__type_by_id(btf, (uint)id);
        var members = new List<BtfMember>(type->Vlen);
        var member = (Interop.Libbpf.btf_member*)(type + 1);
        for (int i = 0; i < type->Vlen; i++, member++)
        {
            uint bitOffset = type->KindFlag ? member->offset & 0xffffff : member->offset;
            long size = Interop.Libbpf.btf__resolve_size(btf, member->type);
            members.Add(new BtfMember(BtfName(btf, member->name_off), (int)(bitOffset / 8), (int)size));
        }

        return new BtfStruct(name, (int)type->size_or_type, members);
    }

    public void Dispose() => _handle.Dispose();

    private (uint Offset, uint Size) FindRodataVariable(string variable)
    {
        nint btf = Interop.Libbpf.bpf_object__btf(_handle.DangerousGetHandle());
        int id;
        fixed (byte* sectionName = ".rodata\0"u8)
        {
            id = btf == 0 ? -1 : Interop.Libbpf.btf__find_by_name_kind(btf, sectionName, Interop.Libbpf.BTF_KIND_DATASEC);
        }

        if (id > 0)
        {
            Interop.Libbpf.btf_type* section = Interop.Libbpf.btf__type_by_id(btf, (uint)id);
            var info = (Interop.Libbpf.btf_var_secinfo*)(section + 1);
            for (int i = 0; i < section->Vlen; i++, info++)
            {
                Interop.Libbpf.btf_type* var = Interop.Libbpf.btf__type_by_id(btf, info->type);
                if (BtfName(btf, var->name_off) == variable)
                {
                    return (info->offset, info->size);
                }
            }
        }

        throw new ArgumentException($"'{_name}' has no constant named '{variable}'.", nameof(variable));
    }

    private nint FindProgram(string name)
    {
        byte[] bytes = NullTerminated(name);
        fixed (byte* namePtr = bytes)
        {
            nint prog = Interop.Libbpf.bpf_object__find_program_by_name(_handle.DangerousGetHandle(), namePtr);
            return prog != 0 ? prog : throw new ArgumentException($"'{_name}' has no program named '{name}'.", nameof(name));
        }
    }

    private nint FindMap(string name)
    {
        byte[] bytes = NullTerminated(name);
        fixed (byte* namePtr = bytes)
        {
            nint map = Interop.Libbpf.bpf_object__find_map_by_name(_handle.DangerousGetHandle(), namePtr);
            return map != 0 ? map : throw new ArgumentException($"'{_name}' has no map named '{name}'.", nameof(name));
        }
    }

    private void EnsureNotLoaded()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (_loaded)
        {
            throw new InvalidOperationException("The object is already loaded.");
        }
    }

    private static void Check(int result, string errorId, string what)
    {
        if (result < 0)
        {
            throw BpfException.FromErrno(errorId, result, what);
        }
    }

    private static string BtfName(nint btf, uint offset)
        => Marshal.PtrToStringUTF8((nint)Interop.Libbpf.btf__name_by_offset(btf, offset)) ?? string.Empty;

    internal static byte[] NullTerminated(string value)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }
}

/// <summary>A struct's layout read from BTF: total size and each member's byte offset and size.</summary>
public sealed record BtfStruct(string Name, int Size, IReadOnlyList<BtfMember> Members)
{
    public BtfMember this[string member] => Members.Single(m => m.Name == member);
}

/// <summary>One member of a <see cref="BtfStruct"/>.</summary>
public sealed record BtfMember(string Name, int Offset, int Size);

/// <summary>One program of an object: its name, the section that names its hook, and whether it loads.</summary>
public sealed record BpfProgramInfo(string Name, string Section, bool Autoload);

/// <summary>An attached program; disposing it detaches.</summary>
public sealed class BpfLink : IDisposable
{
    private readonly BpfLinkHandle _handle;

    internal BpfLink(BpfLinkHandle handle, string program)
    {
        _handle = handle;
        Program = program;
    }

    public string Program { get; }

    public void Dispose() => _handle.Dispose();
}
