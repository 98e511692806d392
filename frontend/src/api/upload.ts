// POST /api/v1/predictions with a file, through XMLHttpRequest for its upload progress events
// (fetch has none). The answer is typed from the generated schema like every other call.
import { ApiError, type Prediction, currentCsrfToken, errorFromBody, notifyUnauthenticated } from "./client";
import type { operations } from "./schema";

type PredictForm = NonNullable<operations["predictions-create_prediction"]["requestBody"]>["content"]["multipart/form-data"];

export interface PredictUpload {
  file: File;
  task: PredictForm["task"];
  site?: string;
}

export interface UploadHandle {
  promise: Promise<Prediction>;
  abort: () => void;
}

export function uploadForPrediction(upload: PredictUpload, onProgress: (fraction: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<Prediction>((resolve, reject) => {
    const form = new FormData();
    form.append("task", upload.task);
    if (upload.site) form.append("site", upload.site);
    form.append("file", upload.file, upload.file.name);
    xhr.open("POST", "/api/v1/predictions");
    xhr.responseType = "json";
    xhr.withCredentials = true;
    const token = currentCsrfToken();
    if (token) xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(xhr.response as Prediction);
        return;
      }
      if (xhr.status === 401) notifyUnauthenticated();
      reject(errorFromBody(xhr.status, xhr.response, xhr.getResponseHeader("x-request-id")));
    };
    xhr.onerror = () => reject(new ApiError(0, "network_error", "The upload could not reach the server."));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "The upload was cancelled."));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
