#Requires -Version 7.6
# Invoke-GadgetProgram with the project's own users'-style programs (tests/programs, compiled by
# the test project's build): a tracer with parameters, a snapshot, a program the verifier
# refuses and one on a kprobe, as plain objects and as an OCI archive, through an agent that
# allows programs and one that does not.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Programs = Get-ChildItem (Join-Path $PSScriptRoot '../Gadget.Tests/bin/*/*/programs') -Directory -ErrorAction Ignore |
        Sort-Object LastWriteTime -Descending | Select-Object -First 1 -ExpandProperty FullName
    if (-not $Programs) { throw 'The test programs are not built: build tests/Gadget.Tests (it compiles tests/programs).' }
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath -ExtraArguments '--allow-programs'
    if (Test-KernelTracing) { $script:Refusing = Start-TestAgent -ModulePath $ModulePath }

    function Start-FailedOpens {
        # Opens a file that does not exist, every 100 ms, from /bin/cat, for $For.
        param([string] $Path, [timespan] $For = '00:00:08')
        Start-ThreadJob -ArgumentList $Path, $For -ScriptBlock {
            param($Path, $For)
            $watch = [Diagnostics.Stopwatch]::StartNew()
            while ($watch.Elapsed -lt $For) {
                $start = [Diagnostics.ProcessStartInfo]::new('/bin/cat', $Path)
                $start.RedirectStandardError = $true
                $cat = [Diagnostics.Process]::Start($start)
                $null = $cat.StandardError.ReadToEnd(); $cat.WaitForExit(); $cat.Dispose()
                Start-Sleep -Milliseconds 100
            }
        }
    }

    function Get-LoadedProgramNames {
        # The names of the BPF programs loaded in the kernel now.
        & bpftool -j prog show | ConvertFrom-Json | ForEach-Object { $_.PSObject.Properties['name']?.Value }
    }

    function New-OciArchive {
        # An OCI image layout as 'ig image export' writes it, in a tar: index.json → manifest,
        # whose config is the gadget.yaml and whose one layer of the eBPF media type is the object.
        param([string] $Object, [string] $Metadata, [string] $Destination, [switch] $Tamper)
        $root = New-TestDirectory 'gadget-oci'
        $blobs = New-Item (Join-Path $root 'blobs/sha256') -ItemType Directory -Force
        function Add-Blob([byte[]] $Bytes, [string] $MediaType) {
            $digest = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant()
            [IO.File]::WriteAllBytes((Join-Path $blobs $digest), $Bytes)
            [ordered]@{ mediaType = $MediaType; digest = "sha256:$digest"; size = $Bytes.Length }
        }
        $config = Add-Blob ([IO.File]::ReadAllBytes($Metadata)) 'application/vnd.gadget.config.v1+yaml'
        $program = Add-Blob ([IO.File]::ReadAllBytes($Object)) 'application/vnd.gadget.ebpf.program.v1+binary'
        $manifest = [ordered]@{ schemaVersion = 2; mediaType = 'application/vnd.oci.image.manifest.v1+json'; config = $config; layers = @($program) } | ConvertTo-Json -Depth 5 -Compress
        $manifestBlob = Add-Blob ([Text.Encoding]::UTF8.GetBytes($manifest)) 'application/vnd.oci.image.manifest.v1+json'
        $manifestBlob['platform'] = @{ architecture = 'amd64'; os = 'linux' }
        [ordered]@{ schemaVersion = 2; manifests = @($manifestBlob) } | ConvertTo-Json -Depth 5 | Set-Content (Join-Path $root 'index.json')
        '{"imageLayoutVersion":"1.0.0"}' | Set-Content (Join-Path $root 'oci-layout')
        if ($Tamper) {
            $path = Join-Path $blobs $program.digest.Substring(7)
            $bytes = [IO.File]::ReadAllBytes($path); $bytes[-1] = $bytes[-1] -bxor 0xff; [IO.File]::WriteAllBytes($path, $bytes)
        }
        & tar -C $root -cf $Destination oci-layout index.json blobs
        if ($LASTEXITCODE -ne 0) { throw "tar failed ($LASTEXITCODE)." }
        Remove-Item $root -Recurse -Force
    }
}

AfterAll {
    Exit-TestAgent $script:Agent
    Stop-TestAgent $script:Refusing
}

Describe 'Invoke-GadgetProgram' -Skip:$SkipKernel {
    It 'streams a tracer''s records as objects with its parameter applied in the kernel' {
        $missing = "/nonexistent-gadget-$([Guid]::NewGuid().ToString('N').Substring(0, 8))"
        $job = $null
        $records = Invoke-GadgetProgram -Path (Join-Path $Programs 'trace_open.bpf.o') -Metadata (Join-Path $Programs 'trace_open.gadget.yaml') -Local `
            -Parameter @{ failed = $true; prefix = $missing } -Duration 4 -Statistics |
            ForEach-Object -Begin { $job = Start-FailedOpens -Path $missing } -Process { $_ }
        $job | Stop-Job -PassThru | Remove-Job -Force
        $events = @($records | Where-Object { $_.PSObject.TypeNames[0] -eq 'Gadget.Program.trace_open' })
        $statistics = $records | Where-Object { $_ -is [Gadget.TraceStatistics] }
        $events.Count | Should -BeGreaterThan 3
        $events | ForEach-Object { $_.fname | Should -Be $missing }
        $events | Where-Object error -ne 'ENOENT' | Should -BeNullOrEmpty
        $events | Where-Object error -ne 0 | Should -HaveCount $events.Count
        $first = $events[0]
        $first.proc_comm | Should -Be 'cat'
        $first.Comm | Should -Be 'cat'
        $first.proc_user | Should -Be 'root'
        $first.outcome | Should -Be 'OPEN_FAILED'
        $first.fd | Should -Be -1
        $first.timestamp | Should -BeOfType [datetime]
        $first.timestamp | Should -BeLessOrEqual (Get-Date)
        $first.timestamp | Should -BeGreaterThan (Get-Date).AddMinutes(-1)
        $statistics.Final | Should -BeTrue
        $statistics.Delivered | Should -Be $events.Count
        $statistics.Lost | Should -Be 0
    }

    It 'counts every record of a burst that overflows a small ring: delivered or lost, none unaccounted' {
        $small = Start-TestAgent -ModulePath $ModulePath -ExtraArguments '--allow-programs', '--ring-bytes', '4096'
        try {
            $env:GADGET_AGENT_SOCKET = $small.Socket
            $missing = "/nonexistent-burst-$([Guid]::NewGuid().ToString('N').Substring(0, 8))"
            $job = $null
            $records = Invoke-GadgetProgram -Path (Join-Path $Programs 'trace_open.bpf.o') -Local -Parameter @{ prefix = $missing } -Duration 5 -Statistics -WarningVariable warnings -WarningAction SilentlyContinue |
                ForEach-Object -Begin {
                    $job = Start-ThreadJob -ArgumentList $missing { param($missing) & /bin/bash -c "sleep 0.5; for i in `$(seq 20000); do : < $missing; done 2>/dev/null" }
                } -Process { $_ }
            $job | Wait-Job | Remove-Job -Force
        }
        finally {
            $env:GADGET_AGENT_SOCKET = $Agent.Socket
            Stop-TestAgent $small
        }
        $statistics = $records | Where-Object { $_ -is [Gadget.TraceStatistics] }
        $delivered = @($records | Where-Object { $_ -isnot [Gadget.TraceStatistics] }).Count
        $statistics.Final | Should -BeTrue
        $statistics.LostKernel | Should -BeGreaterThan 0
        $statistics.Delivered | Should -Be $delivered
        ($statistics.Delivered + $statistics.LostKernel + $statistics.LostAgent + $statistics.FilteredAgent + $statistics.Malformed) | Should -Be 20000
        $warnings | Should -Not -BeNullOrEmpty
    }

    It 'exports every field to its own CSV column, never a nested value' {
        $csv = Join-Path (New-TestDirectory) 'opens.csv'
        Invoke-GadgetProgram -Path (Join-Path $Programs 'trace_open.bpf.o') -Local -MaxEvents 5 -Duration 10 | Export-Csv $csv
        $rows = Import-Csv $csv
        $rows.Count | Should -Be 5
        $columns = $rows[0].PSObject.Properties.Name
        $columns | Should -Contain 'proc_pid'
        $columns | Should -Contain 'fname'
        $columns | Should -Contain 'flags'
        Get-Content $csv -Raw | Should -Not -Match '@\{|System\.'
    }

    It 'shows a table view within 120 columns' {
        $table = Invoke-GadgetProgram -Path (Join-Path $Programs 'trace_open.bpf.o') -Local -MaxEvents 2 -Duration 10 | Format-Table | Out-String -Width 200
        $lines = $table -split "`n" | ForEach-Object { $_ -replace '\x1b\[[0-9;]*m', '' } | Where-Object { $_.Trim() }
        $lines[0] | Should -Match 'TIMESTAMP +PID +COMM .*FNAME +NAMESPACE +POD'
        $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 120 }
    }

    It 'escapes control characters of a traced file name in the table, and keeps them in the property' {
        # Short enough for the view's file name column.
        $name = "/tmp/gx$([Guid]::NewGuid().ToString('N').Substring(0, 4))" + [char]27 + ']0;o' + [char]7
        $records = Invoke-GadgetProgram -Path (Join-Path $Programs 'trace_open.bpf.o') -Local -Parameter @{ prefix = $name.Substring(0, 10) } -Duration 3 |
            ForEach-Object -Begin {
                $job = Start-ThreadJob -ArgumentList $name { param($name) Start-Sleep -Milliseconds 500; for ($i = 0; $i -lt 10; $i++) { try { [IO.File]::OpenRead($name).Dispose() } catch { }; Start-Sleep -Milliseconds 100 } }
            } -Process { $_ }
        $job | Wait-Job | Remove-Job -Force
        $records | Should -Not -BeNullOrEmpty
        $records[0].fname | Should -BeExactly $name
        $table = $records | Format-Table | Out-String -Width 120
        $table | Should -Not -Match "\x1b\]0"
        $table | Should -Match ([regex]::Escape('\e]0;o\x07'))
    }

    It 'refuses an unknown parameter, listing the valid keys with their types and defaults' {
        { Invoke-GadgetProgram -Path (Join-Path $Programs 'trace_open.bpf.o') -Local -Parameter @{ nope = 1 } -Duration 1 } |
            Should -Throw -ErrorId 'UnknownProgramParameter,Gadget.Commands.InvokeGadgetProgramCommand' -ExpectedMessage '*failed: bool, default false*prefix: char`[32`]*'
    }

    It 'refuses -Comm for a program without a name filter variable' {
        { Invoke-GadgetProgram -Path (Join-Path $Programs 'exec_ig_style.bpf.o') -Local -Comm sleep -Duration 1 } |
            Should -Throw -ErrorId 'ProgramFilterUnsupported,Gadget.Commands.InvokeGadgetProgramCommand' -ExpectedMessage '*targ_comm*'
    }

    It 'fills Inspektor Gadget''s mount namespace map for a container selection' {
        # -HostOnly selects the host's mount namespace: with IG's map, only its key passes the kernel.
        $job = Start-ThreadJob { for ($i = 0; $i -lt 40; $i++) { & /bin/true; Start-Sleep -Milliseconds 100 } }
        $records = Invoke-GadgetProgram -Path (Join-Path $Programs 'exec_ig_style.bpf.o') -Local -HostOnly -Duration 3 -Statistics
        $job | Stop-Job -PassThru | Remove-Job -Force
        $events = @($records | Where-Object { $_ -isnot [Gadget.TraceStatistics] })
        $events.Count | Should -BeGreaterThan 3
        $hostMountNs = [uint64](& stat -L -c %i /proc/self/ns/mnt)
        $events | Where-Object mntns_id -ne $hostMountNs | Should -BeNullOrEmpty
        ($records | Where-Object { $_ -is [Gadget.TraceStatistics] }).Final | Should -BeTrue

        # A selection that matches nothing: the map stays empty and the kernel drops every exec.
        $job = Start-ThreadJob { for ($i = 0; $i -lt 40; $i++) { & /bin/true; Start-Sleep -Milliseconds 100 } }
        $none = Invoke-GadgetProgram -Path (Join-Path $Programs 'exec_ig_style.bpf.o') -Local -Namespace no-such-namespace -Duration 3 -Statistics -WarningAction SilentlyContinue
        $job | Stop-Job -PassThru | Remove-Job -Force
        $statistics = $none | Where-Object { $_ -is [Gadget.TraceStatistics] }
        $statistics.Seen | Should -Be 0
        $statistics.Final | Should -BeTrue
    }

    It 'returns a snapshot''s records once and ends' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $processes = Invoke-GadgetProgram -Path (Join-Path $Programs 'snapshot_process.bpf.o') -Local
        $watch.Elapsed | Should -BeLessThan ([timespan]'00:00:20')
        $processes.Count | Should -BeGreaterThan 5
        $self = $processes | Where-Object proc_pid -eq $PID
        $self | Should -HaveCount 1
        $self.Comm | Should -Be (Get-Content /proc/$PID/comm)
        $self.threads | Should -BeGreaterThan 1
        ($processes | Group-Object Comm).Count | Should -BeGreaterThan 1
    }

    It 'quotes the verifier''s last lines for a program it refuses, and leaves nothing loaded' {
        $err = { Invoke-GadgetProgram -Path (Join-Path $Programs 'verifier_reject.bpf.o') -Local -Duration 1 } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -Be 'BpfVerifierRejected,Gadget.Commands.InvokeGadgetProgramCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -Match "invalid mem access 'map_value_or_null'"
        $err.Exception.Message | Should -Not -Match ' at Gadget\.'
        Get-LoadedProgramNames | Should -Not -Contain 'unchecked_looku'
    }

    It 'names the missing hook of a kprobe program, and leaves nothing loaded' {
        $err = { Invoke-GadgetProgram -Path (Join-Path $Programs 'kprobe_open.bpf.o') -Local -Duration 1 } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -Be 'BpfHookUnsupported,Gadget.Commands.InvokeGadgetProgramCommand'
        $err.Exception.Message | Should -Match 'no kprobes'
        Get-LoadedProgramNames | Where-Object { $_ -like 'kprobe_ope*' -or $_ -like 'trace_openat*' -or $_ -like 'snapshot_task*' } | Should -BeNullOrEmpty
    }

    It 'runs an OCI archive as ig image export writes it, and refuses one whose digest does not match' {
        $directory = New-TestDirectory
        $archive = Join-Path $directory 'trace_open.tar'
        New-OciArchive -Object (Join-Path $Programs 'trace_open.bpf.o') -Metadata (Join-Path $Programs 'trace_open.gadget.yaml') -Destination $archive
        $records = Invoke-GadgetProgram -Path $archive -Local -MaxEvents 2 -Duration 10
        $records | Should -HaveCount 2
        $records[0].PSObject.TypeNames[0] | Should -Be 'Gadget.Program.trace_open'

        $tampered = Join-Path $directory 'tampered.tar'
        New-OciArchive -Object (Join-Path $Programs 'trace_open.bpf.o') -Metadata (Join-Path $Programs 'trace_open.gadget.yaml') -Destination $tampered -Tamper
        { Invoke-GadgetProgram -Path $tampered -Local -Duration 1 } |
            Should -Throw -ErrorId 'InvalidProgramFile,Gadget.Commands.InvokeGadgetProgramCommand' -ExpectedMessage '*does not match its digest*'
    }

    It 'refuses a file that is neither an object nor an archive' {
        { Invoke-GadgetProgram -Path /etc/hostname -Local } | Should -Throw -ErrorId 'InvalidProgramFile,Gadget.Commands.InvokeGadgetProgramCommand'
    }

    It 'is refused by an agent that does not allow programs, with an error that says how to allow them' {
        $env:GADGET_AGENT_SOCKET = $Refusing.Socket
        try {
            $err = { Invoke-GadgetProgram -Path (Join-Path $Programs 'trace_open.bpf.o') -Local -Duration 1 } | Should -Throw -PassThru
        }
        finally { $env:GADGET_AGENT_SOCKET = $Agent.Socket }
        $err.FullyQualifiedErrorId | Should -Be 'ProgramsNotAllowed,Gadget.Commands.InvokeGadgetProgramCommand'
        $err.Exception.Message | Should -Match 'allow-programs'
    }
}
