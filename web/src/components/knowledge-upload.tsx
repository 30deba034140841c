import { useRef, useState } from 'preact/hooks';
import { upload } from '../api.ts';
import type { KnowledgeDocument } from '../api-shapes.ts';
import { DocumentStatusChip } from './knowledge-documents.tsx';
import { ErrorNote, StatusChip } from './ui.tsx';

type Progress =
  | { phase: 'waiting' }
  | { phase: 'sending'; fraction: number }
  | { phase: 'sent'; document: KnowledgeDocument }
  | { phase: 'refused'; error: unknown };

interface Upload {
  key: number;
  file: File;
  progress: Progress;
}

/** Enough to keep the connection busy without starving the rest of the console. */
const parallelUploads = 3;
const accepted = '.txt,.md,.markdown,.html,.htm,.pdf,.docx';

/**
 * Files sent at most `parallelUploads` at a time, in the order given, each with its own progress.
 * A refusal stays with its file and the others carry on.
 */
function useUploads(onUploaded: (document: KnowledgeDocument) => void): { uploads: Upload[]; add: (files: File[]) => void } {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const waiting = useRef<Upload[]>([]);
  const running = useRef(0);
  const nextKey = useRef(0);
  const uploaded = useRef(onUploaded);
  uploaded.current = onUploaded;

  const update = (key: number, progress: Progress) =>
    setUploads((all) => all.map((item) => (item.key === key ? { ...item, progress } : item)));

  const send = async (item: Upload) => {
    update(item.key, { phase: 'sending', fraction: 0 });
    const form = new FormData();
    form.append('file', item.file);
    try {
      const { document } = await upload('/v1/knowledge/documents', form, (fraction) => update(item.key, { phase: 'sending', fraction }));
      update(item.key, { phase: 'sent', document });
      uploaded.current(document);
    } catch (error) {
      update(item.key, { phase: 'refused', error });
    }
  };

  const pump = () => {
    while (running.current < parallelUploads) {
      const item = waiting.current.shift();
      if (!item) return;
      running.current += 1;
      void send(item).finally(() => {
        running.current -= 1;
        pump();
      });
    }
  };

  const add = (files: File[]) => {
    const added = files.map((file): Upload => ({ key: nextKey.current++, file, progress: { phase: 'waiting' } }));
    setUploads((all) => [...all, ...added]);
    waiting.current.push(...added);
    pump();
  };

  return { uploads, add };
}

/** The files picker, which a drop of files onto it also feeds. */
function DropZone({ onFiles }: { onFiles: (files: File[]) => void }) {
  const [over, setOver] = useState(false);
  const take = (files: FileList | null | undefined) => {
    if (files && files.length > 0) onFiles([...files]);
  };
  const enter = (event: DragEvent) => {
    event.preventDefault();
    setOver(true);
  };
  return (
    <div
      class={`knowledge-drop${over ? ' is-over' : ''}`}
      onDragEnter={enter}
      onDragOver={enter}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setOver(false);
      }}
      onDrop={(event) => {
        event.preventDefault();
        setOver(false);
        take(event.dataTransfer?.files);
      }}
    >
      <input
        id="knowledge-files"
        type="file"
        multiple
        accept={accepted}
        aria-describedby="knowledge-files-hint"
        onChange={(event) => {
          take(event.currentTarget.files);
          event.currentTarget.value = '';
        }}
      />
      <label for="knowledge-files" class="knowledge-choose">
        Choose files
      </label>
      <p id="knowledge-files-hint" class="hint">
        or drop them here. Text, Markdown, HTML, PDF and Word (.docx) files; several at once.
      </p>
    </div>
  );
}

function UploadStatus({ progress, current }: { progress: Progress; current: KnowledgeDocument | undefined }) {
  switch (progress.phase) {
    case 'waiting':
      return <StatusChip status="pending" label="Waiting" />;
    case 'sending':
      return <StatusChip status="processing" label="Uploading" />;
    case 'refused':
      return <StatusChip status="failed" label="Not uploaded" />;
    case 'sent':
      return current ? <DocumentStatusChip status={current.status} /> : <StatusChip status="cancelled" label="Deleted" />;
  }
}

/**
 * The uploaded document as the list holds it now, which live events keep current; the upload's
 * own answer while the list has not loaded; undefined once it was deleted from the list.
 */
function documentNow(uploaded: KnowledgeDocument, documents: KnowledgeDocument[] | undefined): KnowledgeDocument | undefined {
  if (!documents) return uploaded;
  return documents.find((document) => document.id === uploaded.id);
}

/**
 * One file's journey: the upload's progress, then its processing status, and the server's reason
 * when either fails.
 */
function UploadEntry({ item, documents }: { item: Upload; documents: KnowledgeDocument[] | undefined }) {
  const { progress } = item;
  const barId = `knowledge-upload-${item.key}`;
  const current = progress.phase === 'sent' ? documentNow(progress.document, documents) : undefined;
  const fraction = progress.phase === 'sending' ? progress.fraction : progress.phase === 'waiting' ? 0 : 1;
  return (
    <li class="knowledge-upload">
      <div class="row spread">
        {progress.phase === 'refused' ? (
          <span class="knowledge-file-name">{item.file.name}</span>
        ) : (
          <label for={barId} class="knowledge-file-name">
            {item.file.name}
          </label>
        )}
        <span aria-live="polite">
          <UploadStatus progress={progress} current={current} />
        </span>
      </div>
      {progress.phase === 'refused' ? <ErrorNote error={progress.error} /> : <progress id={barId} max={1} value={fraction} />}
      {current?.error && (
        <p class="error-note" role="alert">
          {current.error.message}
        </p>
      )}
    </li>
  );
}

/** Upload: pick or drop several files; each one's progress and processing are followed live. */
export function KnowledgeUpload({
  documents,
  onUploaded,
}: {
  documents: KnowledgeDocument[] | undefined;
  onUploaded: (document: KnowledgeDocument) => void;
}) {
  const { uploads, add } = useUploads(onUploaded);
  return (
    <section aria-labelledby="knowledge-upload-heading">
      <h2 id="knowledge-upload-heading">Upload</h2>
      <DropZone onFiles={add} />
      {uploads.length > 0 && (
        <ul class="list knowledge-uploads" aria-label="Uploads">
          {uploads.map((item) => (
            <UploadEntry key={item.key} item={item} documents={documents} />
          ))}
        </ul>
      )}
    </section>
  );
}
