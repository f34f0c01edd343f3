//! `lms.config.v1.DocumentService`: registered so reflection and the gateway's route list
//! know it, but every RPC answers UNIMPLEMENTED until documents land in a later issue.

use lms_platform::ApiError;
use lms_proto::config::v1 as pb;
use pb::document_service_server::DocumentService;
use std::pin::Pin;
use tonic::{Request, Response, Status};

/// The document service's tonic impl (not yet implemented).
#[derive(Debug, Default, Clone, Copy)]
pub struct DocumentGrpc;

fn unimplemented(rpc: &str) -> Status {
    ApiError::new(
        tonic::Code::Unimplemented,
        "UNIMPLEMENTED",
        format!(
            "DocumentService.{rpc} is not implemented yet: documents come with a later release"
        ),
    )
    .into()
}

/// The stream type of `DownloadDocument`.
pub type DownloadStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::DownloadDocumentResponse, Status>> + Send>>;

#[tonic::async_trait]
impl DocumentService for DocumentGrpc {
    async fn upload_document(
        &self,
        _request: Request<tonic::Streaming<pb::UploadDocumentRequest>>,
    ) -> Result<Response<pb::UploadDocumentResponse>, Status> {
        Err(unimplemented("UploadDocument"))
    }

    async fn get_document(
        &self,
        _request: Request<pb::GetDocumentRequest>,
    ) -> Result<Response<pb::GetDocumentResponse>, Status> {
        Err(unimplemented("GetDocument"))
    }

    async fn list_documents(
        &self,
        _request: Request<pb::ListDocumentsRequest>,
    ) -> Result<Response<pb::ListDocumentsResponse>, Status> {
        Err(unimplemented("ListDocuments"))
    }

    async fn update_document(
        &self,
        _request: Request<pb::UpdateDocumentRequest>,
    ) -> Result<Response<pb::UpdateDocumentResponse>, Status> {
        Err(unimplemented("UpdateDocument"))
    }

    async fn delete_document(
        &self,
        _request: Request<pb::DeleteDocumentRequest>,
    ) -> Result<Response<pb::DeleteDocumentResponse>, Status> {
        Err(unimplemented("DeleteDocument"))
    }

    type DownloadDocumentStream = DownloadStream;

    async fn download_document(
        &self,
        _request: Request<pb::DownloadDocumentRequest>,
    ) -> Result<Response<Self::DownloadDocumentStream>, Status> {
        Err(unimplemented("DownloadDocument"))
    }
}
