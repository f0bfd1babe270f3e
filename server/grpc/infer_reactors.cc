#include "server/grpc/infer_reactors.h"

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/grpc/llm_protocol.h"

namespace fxserve::server {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;
using inference::ModelStreamInferResponse;

// Checks auth, readiness and the model, then parses the LLM inputs.
absl::StatusOr<std::pair<ServedModel*, ParsedLlmRequest>> Prepare(
    const ServiceContext& services, const grpc::CallbackServerContext& context,
    const ModelInferRequest& request) {
  if (!services.ready()) {
    return absl::UnavailableError(
        "the server is not ready (starting or shutting down)");
  }
  absl::StatusOr<ServedModel*> model =
      services.FindModel(request.model_name(), request.model_version());
  if (!model.ok()) return model.status();
  absl::StatusOr<ParsedLlmRequest> parsed = ParseLlmRequest(request);
  if (!parsed.ok()) {
    (*model)->instances->RecordRejected(parsed.status());
    return absl::Status(parsed.status().code(),
                        absl::StrCat("model ", request.model_name(), ": ",
                                     parsed.status().message()));
  }
  parsed->request.deadline = CallDeadline(context);
  return std::make_pair(*model, *std::move(parsed));
}

class ModelInferReactor : public grpc::ServerUnaryReactor {
 public:
  ModelInferReactor(const ServiceContext& services,
                    grpc::CallbackServerContext* context,
                    const ModelInferRequest* request,
                    ModelInferResponse* response)
      : request_(request), response_(response) {
    if (grpc::Status auth = services.Authorize(*context); !auth.ok()) {
      Finish(auth);
      return;
    }
    auto prepared = Prepare(services, *context, *request);
    if (!prepared.ok()) {
      Finish(ToGrpcStatus(prepared.status()));
      return;
    }
    auto& [model, parsed] = *prepared;
    if (parsed.stream) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "input stream=true needs ModelStreamInfer; "
                          "ModelInfer returns the whole text at once"));
      return;
    }
    instances_ = model->instances.get();
    version_ = model->version;
    absl::StatusOr<llm::RequestId> id = instances_->Submit(
        std::move(parsed.request),
        {.on_text = [this](std::string text) { text_.append(text); },
         .on_done = [this](const absl::Status& status,
                           const llm::LlmResult&) { OnEngineDone(status); }});
    if (!id.ok()) {
      Finish(ToGrpcStatus(id.status()));
      return;
    }
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      id_ = *id;
      submitted_ = true;
      if (cancelled_) instances_->Cancel(*id);
      finish_now = done_.has_value();
    }
    // The engine may finish before Submit returns; whoever comes last
    // finishes the call, so `this` is never used after Finish.
    if (finish_now) FinishCall();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (id_) instances_->Cancel(*id_);
  }

  void OnDone() override { delete this; }

 private:
  void OnEngineDone(const absl::Status& status) {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      done_ = status;
      finish_now = submitted_;
    }
    if (finish_now) FinishCall();
  }

  void FinishCall() {
    // Only one thread gets here (the later of Submit and on_done).
    if (!done_->ok()) {
      Finish(ToGrpcStatus(*done_));
      return;
    }
    SetTextResponse(*request_, version_, text_, *response_);
    Finish(grpc::Status::OK);
  }

  const ModelInferRequest* request_;
  ModelInferResponse* response_;
  llm::LlmInstances* instances_ = nullptr;
  std::string version_;
  std::string text_;  // Engine thread only.
  absl::Mutex mu_;
  std::optional<llm::RequestId> id_ ABSL_GUARDED_BY(mu_);
  bool submitted_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> done_ ABSL_GUARDED_BY(mu_);
};

class ModelStreamInferReactor
    : public grpc::ServerBidiReactor<ModelInferRequest,
                                     ModelStreamInferResponse> {
 public:
  ModelStreamInferReactor(const ServiceContext& services,
                          grpc::CallbackServerContext* context)
      : services_(services), context_(context) {
    if (grpc::Status auth = services.Authorize(*context); !auth.ok()) {
      {
        absl::MutexLock lock(&mu_);
        finished_ = true;
      }
      Finish(auth);
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client closed its side (or the call broke).
      bool finish = false;
      {
        absl::MutexLock lock(&mu_);
        reads_done_ = true;
        finish = ShouldFinish();
      }
      if (finish) FinishStream();
      return;
    }
    HandleRequest();
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    const ModelStreamInferResponse* next = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      outbox_.pop_front();
      if (!ok) {
        // The client is gone: stop its requests, drop what is queued.
        broken_ = true;
        outbox_.clear();
        CancelAllLocked(absl::CancelledError("the stream broke"));
      }
      if (!outbox_.empty()) {
        next = &outbox_.front();
      } else {
        writing_ = false;
        finish = ShouldFinish();
      }
    }
    if (next != nullptr) StartWrite(next);
    if (finish) FinishStream();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    CancelAllLocked(absl::CancelledError("the client cancelled the stream"));
  }

  void OnDone() override { delete this; }

 private:
  struct Active {
    llm::LlmInstances* instances = nullptr;
    std::optional<llm::RequestId> id;
  };

  void HandleRequest() {
    auto prepared = Prepare(services_, *context_, request_);
    if (!prepared.ok()) {
      Send(ErrorResponse(request_, prepared.status()));
      return;
    }
    auto& [model, parsed] = *prepared;
    llm::LlmInstances* instances = model->instances.get();
    uint64_t tag = 0;
    {
      absl::MutexLock lock(&mu_);
      tag = next_tag_++;
      active_[tag] = Active{.instances = instances, .id = std::nullopt};
    }
    // What the callbacks need, copied: request_ is reused by the next read.
    ModelInferRequest header;
    header.set_model_name(request_.model_name());
    header.set_id(request_.id());
    const std::string version = model->version;
    const bool stream = parsed.stream;
    auto whole_text = std::make_shared<std::string>();
    absl::StatusOr<llm::RequestId> id = instances->Submit(
        std::move(parsed.request),
        {.on_text =
             [this, header, version, stream, whole_text](std::string text) {
               if (!stream) {
                 whole_text->append(text);
                 return;
               }
               ModelStreamInferResponse response;
               SetTextResponse(header, version, text,
                               *response.mutable_infer_response());
               SetFinalFlag(false, *response.mutable_infer_response());
               Send(std::move(response));
             },
         .on_done =
             [this, header, version, stream, whole_text, tag](
                 const absl::Status& status, const llm::LlmResult&) {
               ModelStreamInferResponse response;
               if (!status.ok()) {
                 response = ErrorResponse(header, status);
               } else {
                 SetTextResponse(header, version, stream ? "" : *whole_text,
                                 *response.mutable_infer_response());
                 SetFinalFlag(true, *response.mutable_infer_response());
               }
               RequestDone(tag, std::move(response));
             }});
    if (!id.ok()) {
      {
        absl::MutexLock lock(&mu_);
        active_.erase(tag);
      }
      Send(ErrorResponse(header, id.status()));
      return;
    }
    absl::MutexLock lock(&mu_);
    auto it = active_.find(tag);
    if (it == active_.end()) return;  // Already finished.
    it->second.id = *id;
    if (cancelled_ || broken_) {
      instances->Cancel(*id, absl::CancelledError("the stream was cancelled"));
    }
  }

  static ModelStreamInferResponse ErrorResponse(
      const ModelInferRequest& request, const absl::Status& status) {
    ModelStreamInferResponse response;
    response.set_error_message(status.ToString());
    auto* infer = response.mutable_infer_response();
    infer->set_model_name(request.model_name());
    infer->set_id(request.id());
    SetFinalFlag(true, *infer);
    return response;
  }

  void RequestDone(uint64_t tag, ModelStreamInferResponse response) {
    bool finish = false;
    const ModelStreamInferResponse* write = nullptr;
    {
      absl::MutexLock lock(&mu_);
      active_.erase(tag);
      write = QueueLocked(std::move(response));
      finish = ShouldFinish();
    }
    if (write != nullptr) StartWrite(write);
    if (finish) FinishStream();
  }

  void Send(ModelStreamInferResponse response) {
    const ModelStreamInferResponse* write = nullptr;
    {
      absl::MutexLock lock(&mu_);
      write = QueueLocked(std::move(response));
    }
    if (write != nullptr) StartWrite(write);
  }

  // Queues a response; returns it if the caller must start writing it
  // (after unlocking: a write's completion may run inline and take mu_).
  const ModelStreamInferResponse* QueueLocked(ModelStreamInferResponse response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (broken_ || cancelled_ || finished_) return nullptr;
    outbox_.push_back(std::move(response));
    if (writing_) return nullptr;
    writing_ = true;
    // A deque keeps the element's address while later ones are added.
    return &outbox_.front();
  }

  void CancelAllLocked(const absl::Status& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto& [tag, active] : active_) {
      if (active.id) active.instances->Cancel(*active.id, reason);
    }
  }

  bool ShouldFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !reads_done_ || !active_.empty() || writing_) {
      return false;
    }
    finished_ = true;
    return true;
  }

  void FinishStream() {
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
    }
    Finish(cancelled ? grpc::Status(grpc::StatusCode::CANCELLED,
                                    "the stream was cancelled")
                     : grpc::Status::OK);
  }

  const ServiceContext& services_;
  grpc::CallbackServerContext* context_;
  ModelInferRequest request_;  // Reactor thread only (one read at a time).
  absl::Mutex mu_;
  std::map<uint64_t, Active> active_ ABSL_GUARDED_BY(mu_);
  uint64_t next_tag_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<ModelStreamInferResponse> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerUnaryReactor* StartModelInfer(const ServiceContext& services,
                                          grpc::CallbackServerContext* context,
                                          const ModelInferRequest* request,
                                          ModelInferResponse* response) {
  return new ModelInferReactor(services, context, request, response);
}

grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>*
StartModelStreamInfer(const ServiceContext& services,
                      grpc::CallbackServerContext* context) {
  return new ModelStreamInferReactor(services, context);
}

}  // namespace fxserve::server
